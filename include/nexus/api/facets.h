/*
 * facets.h -- GET /api/v1/products/facets: the counts of a storefront's
 * filter sidebar, for the list filters of GET /products.
 */
#ifndef NEXUS_API_FACETS_H
#define NEXUS_API_FACETS_H

#include "nexus/db/db.h"
#include "nexus/http/request.h"
#include "nexus/http/response.h"

enum nx_err api_products_facets(struct request *req, struct response *res);

/* The facets body for the request's query parameters (the list filters
 * and price_buckets) as a new object in *body; 400 recorded on req for a
 * malformed one. staff: include_inactive may take effect. */
enum nx_err api_facets_load(struct request *req, struct db *db, bool staff, json_t **body);

#endif
