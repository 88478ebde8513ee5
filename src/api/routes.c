/*
 * routes.c -- THE route table: every endpoint of the API, in one place.
 *
 * A row: method, pattern, handler, access level, flags. The server refuses
 * to start if a row has no access level. HEAD and OPTIONS are implied.
 */
#include "nexus/http/router.h"

#include "nexus/api/ops.h"

const struct route nx_routes[] = {
    {HTTP_GET, "/healthz", api_healthz, ACCESS_PUBLIC, 0},
    {HTTP_GET, "/readyz", api_readyz, ACCESS_PUBLIC, 0},
    {HTTP_GET, "/metrics", api_metrics, ACCESS_PUBLIC, ROUTE_RAW},
    {HTTP_GET, "/openapi.yaml", api_openapi, ACCESS_PUBLIC, ROUTE_RAW},
};

const size_t nx_route_count = sizeof nx_routes / sizeof nx_routes[0];
