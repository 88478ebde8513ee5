/*
 * products.h -- the product endpoints.
 */
#ifndef NEXUS_API_PRODUCTS_H
#define NEXUS_API_PRODUCTS_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

enum nx_err api_products_list(struct request *req, struct response *res);
enum nx_err api_products_get(struct request *req, struct response *res);
enum nx_err api_products_create(struct request *req, struct response *res);
enum nx_err api_products_replace(struct request *req, struct response *res);
enum nx_err api_products_patch(struct request *req, struct response *res);
enum nx_err api_products_delete(struct request *req, struct response *res);

#endif
