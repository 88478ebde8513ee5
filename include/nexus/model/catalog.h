/*
 * catalog.h -- rules shared by categories and products: slugs, currency
 * codes, and entity tags.
 */
#ifndef NEXUS_MODEL_CATALOG_H
#define NEXUS_MODEL_CATALOG_H

#include "nexus/core/fielderr.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define NX_SLUG_MAX        100
#define NX_NAME_MAX        200
#define NX_DESCRIPTION_MAX 10000
#define NX_ETAG_LEN        34 /* a quoted 32-digit hex tag */

/* [a-z0-9]+(-[a-z0-9]+)*, at most 100 characters, not all digits. */
bool slug_is_valid(const char *s);

/* Derive a slug from a name (out needs max + 2 bytes): ASCII letters and
 * digits lower-cased, every
 * run of other characters one hyphen, cut at a hyphen to fit max. Returns
 * false when nothing usable remains (an empty or all-digit result). */
bool slug_from_name(const char *name, char *out, size_t max);

/* "base-N" cut so that it fits in NX_SLUG_MAX; out needs NX_SLUG_MAX + 1. */
void slug_with_suffix(const char *base, long n, char *out);

/* Upper-case and check an ISO 4217 code ("eur" -> "EUR"); false when it is
 * not an assigned code. out needs 4 bytes. */
bool currency_normalize(const char *in, char out[4]);

/* The strong entity tag of a representation: a quoted hash of its bytes. */
void etag_of(const char *body, size_t len, char out[NX_ETAG_LEN + 1]);

/* The name, slug and description of a category or product body, checked
 * (each given one must be valid). A JSON null description reads as "".
 * With derive, a body without a slug needs a name a slug can come from. */
enum nx_err catalog_text_fields(struct field_errors *errs, json_t *body, bool derive,
                                const char **name, const char **slug, const char **description);

/* A valid SKU: 1..64 of A-Z a-z 0-9 . _ - (SKU_RULE, as messages say it). */
#define SKU_RULE "1 to 64 of A-Z a-z 0-9 . _ -"
bool sku_is_valid(const char *s);
/* A price string (v) to cents in out, or an entry in errs naming field. */
enum nx_err price_parse(struct field_errors *errs, json_t *v, const char *field, char out[24]);
/* A stock integer (v) 0..INT32_MAX to text in out, or an entry in errs. */
enum nx_err stock_parse(struct field_errors *errs, json_t *v, const char *field, char out[24]);

#endif
