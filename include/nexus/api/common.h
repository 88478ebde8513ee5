/*
 * common.h -- small helpers shared by the resource handlers.
 */
#ifndef NEXUS_API_COMMON_H
#define NEXUS_API_COMMON_H

#include "nexus/db/db.h"
#include "nexus/http/request.h"
#include "nexus/http/response.h"

#include <jansson.h>

/* This thread's database connection, or NX_ERR_UNAVAILABLE (503 with
 * Retry-After) recorded on the request. */
enum nx_err api_db(struct request *req, struct db **db);

/* Path parameter i as a positive id in text form; NX_ERR_NOT_FOUND when
 * it is not one (so "/users/abc" is a 404, like a missing row). */
enum nx_err api_path_id(struct request *req, size_t i, char out[24]);

/* 201 with the body and Location: <prefix><id>. obj is consumed. */
void api_created(struct response *res, json_t *obj, const char *location_prefix);

/* 200 with obj as the body; obj is consumed. */
void api_ok(struct response *res, json_t *obj);

#endif
