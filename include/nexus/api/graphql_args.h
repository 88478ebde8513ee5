/*
 * graphql_args.h -- GraphQL arguments as the query parameters of the REST
 * read they mirror.
 *
 * The catalog's GraphQL fields take the REST list's filters, sort, page
 * size and cursor as arguments. Rather than a second parser, the arguments
 * are written as that list's query parameters on a request of their own
 * (no connection: only its query is read), which the REST parsers then
 * check (api/product_filters, api/listing, api/facets): the same rules,
 * the same messages (with the GraphQL argument named in place of the REST
 * parameter, gql_args_detail), and the same canonical filter text, so a
 * GraphQL cursor and a REST cursor are one thing.
 */
#ifndef NEXUS_API_GRAPHQL_ARGS_H
#define NEXUS_API_GRAPHQL_ARGS_H

#include "nexus/http/request.h"

#include <jansson.h>
#include <stdbool.h>

struct gql_args {
    struct request req; /* the parameters, and the detail of a 400 */
    char *owned[2 * NX_MAX_QUERY_ARGS];
    size_t owned_count;
};

/* An empty set of parameters for the caller (its principal is copied). */
void gql_args_init(struct gql_args *a, const struct request *caller);
/* Add name=value (both copied); false (with a detail) when there is no
 * more room. */
bool gql_args_add(struct gql_args *a, const char *name, const char *value);

/* A list of strings as one "v1,v2" value; NX_ERR_BAD_REQUEST (detail set)
 * for an empty value, and for a value with a comma unless escaped: then
 * each value's commas and backslashes are escaped, as attr.* and option.*
 * read them (core/valuelist), and any value can be carried. An empty
 * list adds nothing. */
enum nx_err gql_args_add_list(struct gql_args *a, const char *name, const json_t *values,
                              bool escaped);
/* A ProductFilter value (coerced JSON, NULL or null for none) as the list's
 * filter parameters; NX_ERR_BAD_REQUEST with a detail for what they cannot
 * say (an empty value in a list of values), an attribute key the
 * parameters' rule refuses (checked before it is part of a name), or more
 * conditions than REST's limit of attr.* and option.* parameters. */
enum nx_err gql_args_filter(struct gql_args *a, const json_t *filter);
/* products' sort, first and (with_cursor) after as sort, limit and
 * cursor (first: 1..100, else NX_ERR_BAD_REQUEST with a detail). */
enum nx_err gql_args_page(struct gql_args *a, const json_t *args, bool with_cursor);
/* The REST sort of a ProductSort value ("PRICE_DESC" -> "-price"). */
const char *gql_args_sort(const char *value);
/* A 400's detail with the REST parameter it starts with named as the
 * GraphQL argument it was written from ("min_price must be ..." ->
 * "filter.minPrice must be ...", "attr.color: ..." ->
 * "filter.attributes (key \"color\"): ...", "attr.w.min must ..." ->
 * "filter.attributes (key \"w\").min must ..."), into out (cap bytes). */
void gql_args_detail(const char *detail, char *out, size_t cap);
void gql_args_clear(struct gql_args *a);

#endif
