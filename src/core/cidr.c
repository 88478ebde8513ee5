/*
 * cidr.c -- address ranges and membership.
 */
#include "nexus/core/cidr.h"

#include "nexus/core/parse.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define TEXT_MAX 64 /* longer than any address */

/* The textual address s (NUL-terminated) into out; IPv4-mapped IPv6 is
 * turned into IPv4. */
static bool parse_address(const char *s, int *family, unsigned char out[16], bool *mapped_v4) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, 16);
    *mapped_v4 = false;
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, out) != 1)
        return false;
    *family = AF_INET6;
    if (memcmp(out, mapped, sizeof mapped) == 0) {
        memmove(out, out + 12, 4);
        memset(out + 4, 0, 12);
        *family = AF_INET;
        *mapped_v4 = true;
    }
    return true;
}

static unsigned family_bits(int family) {
    return family == AF_INET ? 32 : 128;
}

/* Whether the first bits of a and b agree. */
static bool same_prefix(const unsigned char *a, const unsigned char *b, unsigned bits) {
    size_t whole = bits / 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    unsigned rest = bits % 8;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xFFu << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

bool cidr_parse(const char *s, size_t len, struct cidr *out) {
    char text[TEXT_MAX];
    const char *slash = memchr(s, '/', len);
    size_t addr_len = slash ? (size_t)(slash - s) : len;
    if (addr_len == 0 || addr_len >= sizeof text)
        return false;
    memcpy(text, s, addr_len);
    text[addr_len] = '\0';
    bool mapped;
    if (!parse_address(text, &out->family, out->addr, &mapped))
        return false;
    unsigned max = family_bits(out->family);
    out->prefix = max;
    if (slash) {
        /* "::ffff:10.0.0.0/104" is the IPv4 range 10.0.0.0/8 */
        unsigned skip = mapped ? 96 : 0;
        int64_t bits;
        if (!parse_i64(slash + 1, len - addr_len - 1, skip, max + skip, &bits))
            return false;
        out->prefix = (unsigned)bits - skip;
    }
    unsigned char host[16];
    /* Host bits below the prefix must be zero: compare with the address
     * cut to its prefix. */
    memcpy(host, out->addr, 16);
    for (unsigned bit = out->prefix; bit < max; bit++)
        host[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
    return memcmp(host, out->addr, 16) == 0;
}

bool cidr_parse_list(const char *text, struct cidr *out, size_t cap, size_t *count,
                     const char **bad) {
    *count = 0;
    *bad = text;
    for (const char *p = text; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *start = p;
        while (n && *start == ' ') {
            start++;
            n--;
        }
        while (n && start[n - 1] == ' ')
            n--;
        if (n) {
            *bad = start;
            if (*count == cap || !cidr_parse(start, n, &out[*count]))
                return false;
            (*count)++;
        }
        p = end ? end + 1 : NULL;
    }
    return true;
}

bool cidr_list_contains(const struct cidr *list, size_t n, const char *addr) {
    int family;
    unsigned char a[16];
    bool mapped;
    if (strlen(addr) >= TEXT_MAX || !parse_address(addr, &family, a, &mapped))
        return false;
    for (size_t i = 0; i < n; i++)
        if (list[i].family == family && same_prefix(list[i].addr, a, list[i].prefix))
            return true;
    return false;
}
