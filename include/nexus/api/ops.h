/*
 * ops.h -- operational endpoints: liveness, readiness, metrics, the spec.
 */
#ifndef NEXUS_API_OPS_H
#define NEXUS_API_OPS_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

enum nx_err api_healthz(struct request *req, struct response *res);
enum nx_err api_readyz(struct request *req, struct response *res);
enum nx_err api_metrics(struct request *req, struct response *res);
enum nx_err api_openapi(struct request *req, struct response *res);

#endif
