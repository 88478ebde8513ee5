/*
 * attributes.h -- a product's attributes and images: validation and their
 * stored form.
 *
 * attributes: an object of 0..50 keys [a-z][a-z0-9_]{0,39}, each value a
 * string of 1..200 characters (code points), a finite number or a boolean.
 * images: an array of 0..20 {url, alt}; url an absolute http or https URL
 * of at most 2,048 characters, alt at most 200 characters (default "").
 *
 * Each bad value is one field error named after its place in the body
 * ("attributes.weight_g", "images[3].url", "images"). A valid value is
 * written as compact JSON text for a jsonb parameter: numbers in their
 * shortest exact spelling, every image with both url and alt. No request,
 * no I/O: the import rows go through the same checks.
 */
#ifndef NEXUS_MODEL_ATTRIBUTES_H
#define NEXUS_MODEL_ATTRIBUTES_H

#include "nexus/core/fielderr.h"
#include "nexus/core/xmem.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define NX_ATTRIBUTES_MAX     50
#define NX_ATTRIBUTE_KEY_MAX  40
#define NX_ATTRIBUTE_TEXT_MAX 200
#define NX_IMAGES_MAX         20
#define NX_IMAGE_URL_MAX      2048
#define NX_IMAGE_ALT_MAX      200

/* The attributes and images of a write, as JSON text: NULL when not
 * given, else the default or the text kept in the buffer. */
struct product_extras {
    const char *attributes;
    const char *images;
    struct buf attributes_json, images_json;
};

/* Check v (the value of "attributes", any JSON type) and, when it is
 * valid, write its stored form to out. */
enum nx_err attributes_parse(struct field_errors *errs, json_t *v, struct buf *out);

/* Whether k is a valid attribute key. */
bool attribute_key_is_valid(const char *k);

/* The same for "images". */
enum nx_err images_parse(struct field_errors *errs, json_t *v, struct buf *out);

/* The "attributes" and "images" of a product body, when present. With
 * defaults (create and full replacement), an absent one becomes its
 * default ({} and []). Allocates only for values given. */
enum nx_err product_extras_parse(struct field_errors *errs, json_t *body, bool defaults,
                                 struct product_extras *out);
void product_extras_clear(struct product_extras *x);

/* An absolute http or https URL (RFC 3986 syntax, ASCII only): a scheme,
 * "://", a non-empty host (a name, an IPv4 address or a bracketed IPv6
 * address), an optional port, then path, query and fragment without
 * spaces, control characters or characters a URI cannot hold. No user
 * information ("user:pass@"). */
bool url_is_http(const char *s, size_t len);

#endif
