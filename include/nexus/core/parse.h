/*
 * parse.h -- strict, bounded parsers for untrusted text.
 *
 * Every parser takes an explicit length (query values may hide NUL bytes),
 * accepts exactly one canonical spelling, and never reads past len. They
 * return true on success and leave *out untouched on failure.
 */
#ifndef NEXUS_CORE_PARSE_H
#define NEXUS_CORE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest price in cents: 99999999.99. */
#define NX_MONEY_MAX_CENTS INT64_C(9999999999)
/* Room for "-99999999.99" style output plus NUL. */
#define NX_MONEY_BUF 24

/* Plain decimal integer: optional '-', digits only, no spaces, no '+', no
 * leading zeros except "0" itself, within [min, max]. */
bool parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

/* Exactly "true" or "false". */
bool parse_bool(const char *s, size_t len, bool *out);

/* Money: digits with an optional '.' and one or two decimals ("5", "19.9",
 * "19.99"), 0 <= value <= 99999999.99, no sign, exponent or spaces. */
bool parse_money(const char *s, size_t len, int64_t *cents);

/* Write cents as a decimal string with exactly two decimals ("19.90").
 * Returns the length written; cap must be at least NX_MONEY_BUF. */
size_t format_money(int64_t cents, char *buf, size_t cap);

/* Positive id for a path segment: 1..INT64_MAX, decimal, no leading zero. */
bool parse_id(const char *s, size_t len, int64_t *out);

/* Code point c (at most U+10FFFF, no surrogate) as UTF-8 into out: its
 * length, 1 to 4. */
size_t utf8_encode(uint32_t c, unsigned char out[4]);

/* s[0..len) lower-cased as PostgreSQL's lower() does it in a C.UTF-8
 * database: each code point mapped by towlower_l in the C.UTF-8 locale
 * (Unicode's simple case mapping: "É" -> "é", "Σ" -> "σ"), or only
 * A-Z when the system lacks that locale. A byte that starts no valid UTF-8
 * sequence is copied as it is. A mapped code point may take more or fewer
 * bytes than it did (4 at most): out holds at most cap - 1 bytes and a
 * NUL, never a character cut in two (cap 4 * code points + 1 holds all).
 * Returns the length written. */
size_t utf8_lower(const char *s, size_t len, char *out, size_t cap);

/* Whether a and b are the same text lower-cased as utf8_lower does it
 * ("Écran" and "écran"), however long they are. */
bool utf8_same_lower(const char *a, const char *b);

#endif
