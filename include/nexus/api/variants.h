/*
 * variants.h -- the variant endpoints under /api/v1/products/{id}/variants,
 * and the variant writes the product endpoints share.
 */
#ifndef NEXUS_API_VARIANTS_H
#define NEXUS_API_VARIANTS_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

enum nx_err api_variants_list(struct request *req, struct response *res);
enum nx_err api_variants_get(struct request *req, struct response *res);
enum nx_err api_variants_create(struct request *req, struct response *res);
enum nx_err api_variants_patch(struct request *req, struct response *res);
enum nx_err api_variants_delete(struct request *req, struct response *res);

#endif
