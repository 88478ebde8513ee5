/*
 * numtext.c -- a double's shortest and plain decimal text (see numtext.h).
 */
#include "nexus/core/numtext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t numtext_shortest(double d, char *out, size_t cap) {
    char text[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(text, sizeof text, "%.*g", p, d);
        if (strtod(text, NULL) == d)
            break;
    }
    size_t n = strlen(text);
    if (n >= cap)
        return 0;
    memcpy(out, text, n + 1);
    return n;
}

/* Append c n times to out at *k, within cap (false when it does not fit). */
static int put(char *out, size_t cap, size_t *k, char c, size_t n) {
    if (*k + n >= cap)
        return 0;
    memset(out + *k, c, n);
    *k += n;
    return 1;
}

size_t numtext_plain(double d, char *out, size_t cap) {
    char g[40], digits[40];
    if (!numtext_shortest(d, g, sizeof g))
        return 0;
    /* the digits without the point, and where the point goes among them */
    const char *p = g + (g[0] == '-');
    size_t nd = 0;
    long point = -1;
    for (; *p && *p != 'e'; p++)
        if (*p == '.')
            point = (long)nd;
        else
            digits[nd++] = *p;
    if (point < 0)
        point = (long)nd;
    if (*p == 'e')
        point += strtol(p + 1, NULL, 10);
    size_t lead = 0;
    while (lead < nd && digits[lead] == '0') /* "0.001": the zeros move the point */
        lead++, point--;
    size_t k = 0;
    if (lead == nd) /* zero, of either sign */
        return put(out, cap, &k, '0', 1) ? (out[k] = '\0', k) : 0;
    int ok = g[0] == '-' ? put(out, cap, &k, '-', 1) : 1;
    const char *sig = digits + lead;
    size_t ns = nd - lead;
    if (point <= 0) {
        ok = ok && put(out, cap, &k, '0', 1) && put(out, cap, &k, '.', 1) &&
             put(out, cap, &k, '0', (size_t)-point);
        for (size_t i = 0; ok && i < ns; i++)
            ok = put(out, cap, &k, sig[i], 1);
    } else {
        for (size_t i = 0; ok && i < ns; i++) {
            if ((long)i == point)
                ok = put(out, cap, &k, '.', 1);
            ok = ok && put(out, cap, &k, sig[i], 1);
        }
        if (ok && point > (long)ns)
            ok = put(out, cap, &k, '0', (size_t)point - ns);
    }
    if (!ok)
        return 0;
    out[k] = '\0';
    return k;
}
