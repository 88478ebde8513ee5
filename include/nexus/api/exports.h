/*
 * exports.h -- GET /api/v1/exports/products: the catalog in the import
 * format (model/product_export.h), streamed.
 */
#ifndef NEXUS_API_EXPORTS_H
#define NEXUS_API_EXPORTS_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

/* format=ndjson|csv (default ndjson) and the product list's filters;
 * every match, inactive ones too unless include_inactive=false, in id
 * order. */
enum nx_err api_exports_products(struct request *req, struct response *res);

#endif
