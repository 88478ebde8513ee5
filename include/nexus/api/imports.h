/*
 * imports.h -- bulk product imports: the streamed upload, the import's
 * state and its errors. The rows are applied by the "import" job
 * (jobs/import).
 */
#ifndef NEXUS_API_IMPORTS_H
#define NEXUS_API_IMPORTS_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

/* POST /api/v1/imports: the body sink (see route_upload) and the handler
 * that queues the stored upload (202). */
enum nx_err api_imports_upload(struct request *req, const char *data, size_t len);
enum nx_err api_imports_create(struct request *req, struct response *res);

/* GET /api/v1/imports/{id}: the import with its first 100 errors. */
/* GET /api/v1/imports: a page of imports, newest first by default. */
enum nx_err api_imports_list(struct request *req, struct response *res);
enum nx_err api_imports_get(struct request *req, struct response *res);

/* GET /api/v1/imports/{id}/errors: every error, as NDJSON, streamed. */
enum nx_err api_imports_errors(struct request *req, struct response *res);

#endif
