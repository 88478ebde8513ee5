/*
 * metrics.h -- request counters and latency histograms per route template.
 *
 * Counters are relaxed atomics in a table sized at start-up, so recording
 * costs a few increments and no lock. Requests that matched no route are
 * counted under the label "unmatched", never under their raw path.
 */
#ifndef NEXUS_HTTP_METRICS_H
#define NEXUS_HTTP_METRICS_H

#include "nexus/core/xmem.h"
#include "nexus/http/router.h"

#include <stdint.h>

void metrics_init(size_t route_count);
void metrics_free(void);
void metrics_observe(const struct route *route, unsigned status, uint64_t duration_us);
/* Count a named event ("cache_hit", ...); see metrics.c for the names. */
void metrics_count(const char *counter);
/* Append the Prometheus text of everything recorded. */
void metrics_render(struct buf *out);

#endif
