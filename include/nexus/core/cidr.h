/*
 * cidr.h -- address ranges ("10.0.0.0/8", "fc00::/7", "::1") and whether
 * an address is in one. Pure: no I/O, no allocation.
 *
 * A range without "/n" is the single address. Host bits set below the
 * prefix ("10.1.2.3/8") are refused, so a typo cannot widen a range
 * silently. IPv4 addresses seen through a dual-stack socket
 * ("::ffff:10.1.2.3") match IPv4 ranges, and an IPv4-mapped range is the
 * IPv4 range it maps ("::ffff:10.0.0.0/104" is 10.0.0.0/8).
 */
#ifndef NEXUS_CORE_CIDR_H
#define NEXUS_CORE_CIDR_H

#include <stdbool.h>
#include <stddef.h>

struct cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix; /* bits: 0..32 or 0..128 */
};

/* Parse one range of len bytes (no spaces). */
bool cidr_parse(const char *s, size_t len, struct cidr *out);

/* Parse a comma-separated list (spaces around entries allowed, empty
 * entries skipped) into at most cap ranges. False on a bad entry or too
 * many; *bad then points at the entry at fault (or the list). */
bool cidr_parse_list(const char *text, struct cidr *out, size_t cap, size_t *count,
                     const char **bad);

/* Whether the textual address addr is inside any of the n ranges. */
bool cidr_list_contains(const struct cidr *list, size_t n, const char *addr);

#endif
