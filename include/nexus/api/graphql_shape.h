/*
 * graphql_shape.h -- REST representations in the GraphQL schema's shape.
 *
 * The catalog's GraphQL types are the REST JSON of the same rows, written
 * by the same model functions, with the schema's spelling (docs/GRAPHQL.md,
 * "Schema"): member names in camelCase (in_stock -> inStock), a product's
 * attributes object as a list of {key, value, type} by key, a variant's
 * options object as a list of {name, value} by name, a role in capitals.
 * Money stays a decimal string and ids become strings when the executor
 * completes them as IDs.
 */
#ifndef NEXUS_API_GRAPHQL_SHAPE_H
#define NEXUS_API_GRAPHQL_SHAPE_H

#include "nexus/core/numtext.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * An attribute is {key, value, type} (docs/GRAPHQL.md, "Schema"): a string
 * as it is, a number as gql_attribute_number writes it, a boolean as
 * "true" or "false". A value of another JSON type (null, an object or an
 * array: the API stores none, SQL by hand can) or a number beyond a double
 * has no type of the schema: it is left out of the list. Products built as
 * values (gql_product_row) and written from their row (graphql_row.c) read
 * numbers with gql_number_token and write them with gql_attribute_number,
 * so both give the same bytes.
 */
#define GQL_NUMBER_BUF NUMTEXT_BUF

/* A JSON number's text read as jansson reads it: *integer and *i when it
 * has no fraction or exponent and fits 64 bits, else *d; false beyond a
 * double or when longer than any double's digits. */
bool gql_number_token(const char *s, size_t len, bool *integer, json_int_t *i, double *d);
/* The text of an attribute's number (an integer i, else the real d) into
 * out (cap bytes, GQL_NUMBER_BUF is enough): its length, 0 when it has
 * none (a real beyond a double). */
size_t gql_attribute_number(bool integer, json_int_t i, double d, char *out, size_t cap);

/* rest reshaped as a new value (rest is borrowed). */
json_t *gql_shape(const json_t *rest);

/* One row of a product result (PC_* columns) as a Product; staff as
 * product_write_json takes it. */
json_t *gql_product_row(const PGresult *r, int row, bool staff);
/* One row of a variant result (VC_* columns) as a Variant. */
json_t *gql_variant_row(const PGresult *r, int row);
/* One row of a category result (CC_* columns) as a Category. */
json_t *gql_category_row(const PGresult *r, int row);

#endif
