/*
 * netaddr.h -- IP addresses and CIDR ranges, parsed strictly from text.
 *
 * IPv4 addresses and IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are the
 * same address: both are kept as IPv4, so a range written either way
 * matches a peer seen through a dual-stack socket. Parsers take an
 * explicit length and never read past it.
 */
#ifndef NEXUS_CORE_NETADDR_H
#define NEXUS_CORE_NETADDR_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr;

/* Room for the longest text form plus NUL (INET6_ADDRSTRLEN). */
#define NX_IP_TEXT_MAX 46

struct ip_addr {
    bool v6;
    unsigned char bytes[16]; /* the first 4 for IPv4 */
};

struct ip_range {
    struct ip_addr base; /* bits past the prefix are zero */
    unsigned prefix;     /* 0..32 for IPv4, 0..128 for IPv6 */
};

/* An IPv4 dotted quad or an IPv6 address, nothing around it. */
bool ip_parse(const char *s, size_t len, struct ip_addr *out);

/* "address/prefix" or a bare address (a range of one: /32 or /128). The
 * prefix is decimal, at most 32 (IPv4) or 128 (IPv6); bits of the address
 * past the prefix are ignored. */
bool ip_range_parse(const char *s, size_t len, struct ip_range *out);

/* The address of an AF_INET or AF_INET6 socket address. */
bool ip_from_sockaddr(const struct sockaddr *sa, struct ip_addr *out);

bool ip_range_contains(const struct ip_range *range, const struct ip_addr *addr);

/* True when one of the n ranges contains addr. */
bool ip_ranges_contain(const struct ip_range *ranges, size_t n, const struct ip_addr *addr);

/* The text form (IPv4 dotted, IPv6 compressed) into out[NX_IP_TEXT_MAX]. */
void ip_format(const struct ip_addr *addr, char out[NX_IP_TEXT_MAX]);

/* The per-client limits' key of addr into out[NX_IP_TEXT_MAX]: an IPv4
 * address (an IPv4-mapped one included) is its own key, an IPv6 address
 * is keyed by its /64 ("2001:db8:1:2::/64"). A host is usually given a
 * whole /64 (SLAAC, privacy addresses), so a key per IPv6 address would
 * let one client multiply its allowance by changing addresses. */
void ip_limit_key(const struct ip_addr *addr, char out[NX_IP_TEXT_MAX]);

#endif
