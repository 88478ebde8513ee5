/*
 * common.c -- helpers shared by the resource handlers.
 */
#include "nexus/api/common.h"

#include "nexus/core/parse.h"
#include "nexus/http/problem.h"

#include <stdio.h>

enum nx_err api_db(struct request *req, struct db **db) {
    *db = db_thread(req->request_id);
    if (*db)
        return NX_OK;
    req->retry_after = 2;
    return problem_detail(req, NX_ERR_UNAVAILABLE, "the database is unavailable; retry later");
}

enum nx_err api_path_id(struct request *req, size_t i, char out[24]) {
    struct slice s = request_param(req, i);
    int64_t id;
    if (!parse_id(s.ptr, s.len, &id))
        return problem_detail(req, NX_ERR_NOT_FOUND, "no such resource");
    snprintf(out, 24, "%lld", (long long)id);
    return NX_OK;
}

void api_created(struct response *res, json_t *obj, const char *location_prefix) {
    char location[128];
    snprintf(location, sizeof location, "%s%lld", location_prefix,
             (long long)json_integer_value(json_object_get(obj, "id")));
    response_json(res, 201, obj);
    response_header(res, "Location", location);
    json_decref(obj);
}

void api_ok(struct response *res, json_t *obj) {
    response_json(res, 200, obj);
    json_decref(obj);
}
