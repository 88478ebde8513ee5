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

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

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
