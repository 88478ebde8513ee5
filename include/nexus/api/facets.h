/*
 * facets.h -- GET /api/v1/products/facets: the counts of a storefront's
 * filter sidebar, for the list filters of GET /products.
 */
#ifndef NEXUS_API_FACETS_H
#define NEXUS_API_FACETS_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

enum nx_err api_products_facets(struct request *req, struct response *res);

#endif
