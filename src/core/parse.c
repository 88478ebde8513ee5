/*
 * parse.c -- strict parsers for integers, booleans, ids and money, and
 * UTF-8 lower-casing as PostgreSQL's lower() does it.
 *
 * No strtol/strtod here: they skip white space, accept signs, exponents and
 * hexadecimal, and depend on the locale. These accept one spelling only.
 */
#include "nexus/core/parse.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <wctype.h>

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Accumulate unsigned decimal digits into *out, failing on overflow. */
static bool parse_digits(const char *s, size_t len, uint64_t limit, uint64_t *out) {
    uint64_t v = 0;
    if (len == 0)
        return false;
    if (len > 1 && s[0] == '0')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out) {
    if (!s)
        return false;
    bool neg = len > 0 && s[0] == '-';
    uint64_t mag;
    if (!parse_digits(s + neg, len - neg, (uint64_t)INT64_MAX + neg, &mag))
        return false;
    if (neg && mag == 0)
        return false; /* "-0" is not canonical */
    int64_t v = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool parse_id(const char *s, size_t len, int64_t *out) {
    return parse_i64(s, len, 1, INT64_MAX, out) && s[0] != '-';
}

bool parse_bool(const char *s, size_t len, bool *out) {
    if (len == 4 && memcmp(s, "true", 4) == 0) {
        *out = true;
        return true;
    }
    if (len == 5 && memcmp(s, "false", 5) == 0) {
        *out = false;
        return true;
    }
    return false;
}

bool parse_money(const char *s, size_t len, int64_t *cents) {
    size_t dot = len;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '.') {
            dot = i;
            break;
        }
    /* Whole part: plain digits; leading zeros are harmless in money ("05"). */
    if (dot == 0 || dot > 8)
        return false;
    int64_t whole = 0;
    for (size_t i = 0; i < dot; i++) {
        if (!is_digit(s[i]))
            return false;
        whole = whole * 10 + (s[i] - '0');
    }
    size_t decimals = dot < len ? len - dot - 1 : 0;
    if (dot < len && (decimals < 1 || decimals > 2))
        return false;
    int64_t frac = 0;
    for (size_t i = 0; i < decimals; i++) {
        char c = s[dot + 1 + i];
        if (!is_digit(c))
            return false;
        frac = frac * 10 + (c - '0');
    }
    if (decimals == 1)
        frac *= 10;
    *cents = whole * 100 + frac;
    return true;
}

size_t format_money(int64_t cents, char *buf, size_t cap) {
    /* digit arithmetic, not printf: every price of every answer comes here */
    char digits[32], *p = digits + sizeof digits;
    uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    uint64_t units = mag / 100, hundredths = mag % 100;
    *--p = (char)('0' + hundredths % 10);
    *--p = (char)('0' + hundredths / 10);
    *--p = '.';
    do {
        *--p = (char)('0' + units % 10);
        units /= 10;
    } while (units);
    if (cents < 0)
        *--p = '-';
    size_t n = (size_t)(digits + sizeof digits - p);
    if (cap) { /* as snprintf: cut to the room, always terminated */
        size_t kept = n < cap ? n : cap - 1;
        memcpy(buf, p, kept);
        buf[kept] = '\0';
    }
    return n;
}

/* ---- utf8_lower ------------------------------------------------------------ */

/* The database's locale, for its case mapping (not the process's, which
 * may be anything); (locale_t)0 when the system does not have it. */
static locale_t lower_locale;
static pthread_once_t lower_locale_once = PTHREAD_ONCE_INIT;

static void lower_locale_open(void) {
    lower_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static uint32_t lower_code_point(uint32_t c) {
    pthread_once(&lower_locale_once, lower_locale_open);
    if (!lower_locale) /* ASCII is all that can be lowered for certain */
        return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
    /* glibc's wchar_t holds code points (__STDC_ISO_10646__) */
    wint_t l = towlower_l((wint_t)c, lower_locale);
    return l <= 0x10FFFF ? (uint32_t)l : c;
}

/* The length of the sequence a lead byte starts (0: none). */
static size_t utf8_sequence_length(unsigned char lead) {
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead >= 0xE0 && lead <= 0xEF)
        return 3;
    return lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
}

/* The code point of the well-formed UTF-8 sequence at s[0..len) (its
 * length in *n), or false: an invalid byte, or a sequence cut short,
 * overlong, a surrogate or past U+10FFFF. */
static bool utf8_decode(const unsigned char *s, size_t len, uint32_t *c, size_t *n) {
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t k = utf8_sequence_length(s[0]);
    if (k == 0 || k > len)
        return false;
    uint32_t v = k == 1 ? s[0] : s[0] & (0x7Fu >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return false;
        v = v << 6 | (s[i] & 0x3Fu);
    }
    if (v < min[k] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return false;
    *c = v;
    *n = k;
    return true;
}

size_t utf8_encode(uint32_t c, unsigned char out[4]) {
    if (c < 0x80) {
        out[0] = (unsigned char)c;
        return 1;
    }
    size_t k = c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    for (size_t i = k - 1; i > 0; i--, c >>= 6)
        out[i] = (unsigned char)(0x80 | (c & 0x3F));
    out[0] = (unsigned char)(((0xFF00u >> k) & 0xFFu) | c); /* 2: 0xC0, 3: 0xE0, 4: 0xF0 */
    return k;
}

/* The character at in[0..len) lower-cased into buf: the bytes written
 * there; the bytes read into *n. */
static size_t lower_character(const unsigned char *in, size_t len, unsigned char buf[4],
                              size_t *n) {
    uint32_t c;
    if (utf8_decode(in, len, &c, n))
        return utf8_encode(lower_code_point(c), buf);
    buf[0] = in[0]; /* a byte that starts nothing valid stays as it is */
    *n = 1;
    return 1;
}

size_t utf8_lower(const char *s, size_t len, char *out, size_t cap) {
    const unsigned char *in = (const unsigned char *)s;
    size_t at = 0, used = 0;
    if (cap == 0)
        return 0;
    while (at < len) {
        unsigned char buf[4];
        size_t n, k = lower_character(in + at, len - at, buf, &n);
        if (used + k > cap - 1)
            break; /* no character is cut in two */
        memcpy(out + used, buf, k);
        used += k;
        at += n;
    }
    out[used] = '\0';
    return used;
}

bool utf8_same_lower(const char *a, const char *b) {
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    size_t xlen = strlen(a), ylen = strlen(b);
    while (xlen && ylen) {
        unsigned char lx[4], ly[4];
        size_t nx, ny, kx = lower_character(x, xlen, lx, &nx),
                       ky = lower_character(y, ylen, ly, &ny);
        if (kx != ky || memcmp(lx, ly, kx) != 0)
            return false;
        x += nx, xlen -= nx;
        y += ny, ylen -= ny;
    }
    return xlen == 0 && ylen == 0;
}
