/*
 * categories.h -- the category endpoints.
 */
#ifndef NEXUS_API_CATEGORIES_H
#define NEXUS_API_CATEGORIES_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

enum nx_err api_categories_list(struct request *req, struct response *res);
enum nx_err api_categories_get(struct request *req, struct response *res);
enum nx_err api_categories_create(struct request *req, struct response *res);
enum nx_err api_categories_patch(struct request *req, struct response *res);
enum nx_err api_categories_delete(struct request *req, struct response *res);

#endif
