/*
 * netaddr.c -- IP address and CIDR range parsing and matching.
 */
#include "nexus/core/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <string.h>

static const unsigned char V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Keep an IPv4-mapped IPv6 address as the IPv4 address it is. */
static void unmap_v4(struct ip_addr *a) {
    if (a->v6 && memcmp(a->bytes, V4_MAPPED, sizeof V4_MAPPED) == 0) {
        memmove(a->bytes, a->bytes + 12, 4);
        memset(a->bytes + 4, 0, 12);
        a->v6 = false;
    }
}

bool ip_parse(const char *s, size_t len, struct ip_addr *out) {
    char text[NX_IP_TEXT_MAX];
    if (len == 0 || len >= sizeof text || memchr(s, '\0', len))
        return false;
    memcpy(text, s, len);
    text[len] = '\0';
    struct ip_addr a;
    memset(&a, 0, sizeof a);
    if (inet_pton(AF_INET, text, a.bytes) == 1) {
        *out = a;
        return true;
    }
    if (inet_pton(AF_INET6, text, a.bytes) != 1)
        return false;
    a.v6 = true;
    unmap_v4(&a);
    *out = a;
    return true;
}

bool ip_from_sockaddr(const struct sockaddr *sa, struct ip_addr *out) {
    struct ip_addr a;
    memset(&a, 0, sizeof a);
    if (sa->sa_family == AF_INET) {
        memcpy(a.bytes, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(a.bytes, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        a.v6 = true;
        unmap_v4(&a);
    } else {
        return false;
    }
    *out = a;
    return true;
}

/* A decimal prefix length: 1 to 3 digits, no sign, no leading zero. */
static bool parse_prefix(const char *s, size_t len, unsigned max, unsigned *out) {
    if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
        return false;
    unsigned n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        n = n * 10 + (unsigned)(s[i] - '0');
    }
    if (n > max)
        return false;
    *out = n;
    return true;
}

static void clear_host_bits(struct ip_addr *a, unsigned prefix) {
    size_t size = a->v6 ? 16 : 4;
    for (size_t i = 0; i < size; i++) {
        unsigned bit = (unsigned)i * 8;
        if (bit >= prefix)
            a->bytes[i] = 0;
        else if (prefix - bit < 8)
            a->bytes[i] &= (unsigned char)(0xff00u >> (prefix - bit));
    }
}

bool ip_range_parse(const char *s, size_t len, struct ip_range *out) {
    const char *slash = memchr(s, '/', len);
    size_t addr_len = slash ? (size_t)(slash - s) : len;
    struct ip_range r;
    if (!ip_parse(s, addr_len, &r.base))
        return false;
    bool written_v6 = memchr(s, ':', addr_len) != NULL;
    r.prefix = written_v6 ? 128 : 32;
    if (slash && !parse_prefix(slash + 1, len - addr_len - 1, r.prefix, &r.prefix))
        return false;
    /* ::ffff:10.0.0.0/104 is 10.0.0.0/8: a mapped address's prefix
     * counts over its IPv4 part only. */
    if (written_v6 && !r.base.v6) {
        if (r.prefix < 96)
            return false;
        r.prefix -= 96;
    }
    clear_host_bits(&r.base, r.prefix);
    *out = r;
    return true;
}

bool ip_range_contains(const struct ip_range *range, const struct ip_addr *addr) {
    if (range->base.v6 != addr->v6)
        return false;
    struct ip_addr masked = *addr;
    clear_host_bits(&masked, range->prefix);
    return memcmp(masked.bytes, range->base.bytes, sizeof masked.bytes) == 0;
}

bool ip_ranges_contain(const struct ip_range *ranges, size_t n, const struct ip_addr *addr) {
    for (size_t i = 0; i < n; i++)
        if (ip_range_contains(&ranges[i], addr))
            return true;
    return false;
}

void ip_format(const struct ip_addr *addr, char out[NX_IP_TEXT_MAX]) {
    if (!inet_ntop(addr->v6 ? AF_INET6 : AF_INET, addr->bytes, out, NX_IP_TEXT_MAX))
        out[0] = '\0';
}

void ip_limit_key(const struct ip_addr *addr, char out[NX_IP_TEXT_MAX]) {
    enum { V6_LIMIT_PREFIX = 64 };
    struct ip_addr key = *addr;
    if (key.v6)
        clear_host_bits(&key, V6_LIMIT_PREFIX);
    ip_format(&key, out);
    if (key.v6)
        strncat(out, "/64", NX_IP_TEXT_MAX - strlen(out) - 1);
}
