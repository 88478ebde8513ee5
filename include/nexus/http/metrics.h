/*
 * metrics.h -- the Prometheus text of /metrics, and the request series.
 *
 * Recording lives in core/metrics.h. Here each route (template and
 * method) is one series (router_index), and series nx_route_count holds
 * the requests whose path matched no template: they are labelled
 * "unmatched", never with their raw path. A path that matched a template
 * with a method that has no route there (a 405, or an OPTIONS preflight)
 * is counted under that template and its own method, in the series after
 * those: so metrics_init(metrics_series_needed()) at start-up.
 */
#ifndef NEXUS_HTTP_METRICS_H
#define NEXUS_HTTP_METRICS_H

#include "nexus/core/metrics.h"
#include "nexus/core/xmem.h"
#include "nexus/http/router.h"

#include <stdint.h>

size_t metrics_series_needed(void);
/* Record one request under its route's series; with no route, under the
 * template its path matched (pattern, the first route of that template)
 * and its method, or else as unmatched (both NULL). */
void metrics_observe(const struct route *route, const struct route *pattern,
                     enum http_method method, unsigned status, uint64_t duration_us);
/* Append the Prometheus text of everything recorded. */
void metrics_render(struct buf *out);

#endif
