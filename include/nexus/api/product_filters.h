/*
 * product_filters.h -- GET /products query parameters to a filter.
 *
 * Malformed values are a 400; empty values are ignored; a well-formed
 * category that matches nothing makes an empty list. The canonical text of
 * the filters is what a cursor is bound to.
 */
#ifndef NEXUS_API_PRODUCT_FILTERS_H
#define NEXUS_API_PRODUCT_FILTERS_H

#include "nexus/db/products.h"
#include "nexus/http/request.h"

#include <stdbool.h>

struct product_query {
    struct product_filter filter;
    bool matches_nothing; /* a category that does not exist */
    struct buf canonical; /* "&q=..&min_price=.." */
    size_t category_at;   /* where "&category=.." is (or would be) in canonical */
    char min[24], max[24], currency[4];
    char sku[65];
    char category_id[24]; /* the category filter's own id; "" without one */
    char *category_ids;   /* owned */
    char *extra_patterns; /* owned */
    /* the attr.* and option.* keys, names and values the filter points at */
    char *owned[3 * NX_DISCOVERY_MAX];
    size_t owned_count;
};

/* What the key of an attr.* parameter must be, as its 400 says it. */
#define ATTRIBUTE_KEY_RULE "an attribute key is 1 to 40 of a-z, 0-9 and _, starting with a letter"

/* staff: whether include_inactive may take effect. */
enum nx_err product_query_parse(struct request *req, struct db *db, bool staff,
                                struct product_query *q);
void product_query_clear(struct product_query *q);

/* Whether f has an option filter on name, compared as variants' option
 * names are: lower-cased (utf8_lower), so "Écran" is "écran". */
bool product_filter_names_option(const struct product_filter *f, const char *name);

/* A category id or slug from query parameter param ([A-Za-z0-9-] only,
 * else 400) into out; *by_slug when it is not a positive integer. */
enum nx_err category_key(struct request *req, const char *param, struct slice v, char *out,
                         size_t cap, bool *by_slug);

#endif
