/*
 * metrics.h -- the Prometheus text of /metrics, and the request series.
 *
 * Recording lives in core/metrics.h. Here each route template is one
 * series (router_index), and series nx_route_count holds the requests that
 * matched no route: they are labelled "unmatched", never with their raw
 * path. So metrics_init(nx_route_count + 1) at start-up.
 */
#ifndef NEXUS_HTTP_METRICS_H
#define NEXUS_HTTP_METRICS_H

#include "nexus/core/metrics.h"
#include "nexus/core/xmem.h"
#include "nexus/http/router.h"

#include <stdint.h>

/* Record one request under its route's series (NULL: unmatched). */
void metrics_observe(const struct route *route, unsigned status, uint64_t duration_us);
/* Append the Prometheus text of everything recorded. */
void metrics_render(struct buf *out);

#endif
