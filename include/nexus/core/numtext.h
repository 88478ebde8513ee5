/*
 * numtext.h -- a double's text: the shortest spelling that reads back as
 * the same double, and that spelling in plain decimal.
 *
 * Attributes are stored with the shortest spelling (0.1 is "0.1", not the
 * 17 digits of the nearest double), which PostgreSQL's jsonb keeps as a
 * numeric and writes back in plain decimal ("1e-07" as "0.0000001",
 * "2.5e+20" as 21 digits). The plain form is what REST answers and what
 * the attribute filters compare, so GraphQL gives the same.
 */
#ifndef NEXUS_CORE_NUMTEXT_H
#define NEXUS_CORE_NUMTEXT_H

#include <stddef.h>

/* Enough for any finite double in either form (a sign, 309 integer digits
 * or 323 zeros after the point and 17 digits). */
#define NUMTEXT_BUF 352

/* d (finite) in the shortest "%.*g" spelling that reads back as d, into
 * out (cap bytes): its length, 0 when it does not fit. */
size_t numtext_shortest(double d, char *out, size_t cap);

/* The same number in plain decimal, without an exponent, as PostgreSQL
 * writes a numeric ("-0" is "0"): its length, 0 when it does not fit. */
size_t numtext_plain(double d, char *out, size_t cap);

#endif
