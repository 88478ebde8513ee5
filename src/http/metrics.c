/*
 * metrics.c -- Prometheus counters for requests, latency and named events.
 */
#include "nexus/http/metrics.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const unsigned statuses[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 409,
                                    412, 413, 414, 415, 422, 429, 431, 500, 503};
#define N_STATUS (sizeof statuses / sizeof statuses[0] + 1) /* + "other" */

static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define N_BUCKET (sizeof bucket_le / sizeof bucket_le[0] + 1) /* + "+Inf" */

static const char *const counter_names[] = {"cache_hits",     "cache_local_hits", "cache_misses",
                                            "cache_bypasses", "cache_errors",     "cache_oversize"};
#define N_COUNTER (sizeof counter_names / sizeof counter_names[0])

struct route_stats {
    _Atomic uint64_t by_status[N_STATUS];
    _Atomic uint64_t buckets[N_BUCKET];
    _Atomic uint64_t sum_us;
};

static struct route_stats *stats; /* route_count + 1 rows; the last is "unmatched" */
static size_t rows;
static _Atomic uint64_t counters[N_COUNTER];

void metrics_init(size_t route_count) {
    rows = route_count + 1;
    stats = xcalloc(rows, sizeof *stats);
}

void metrics_free(void) {
    free(stats);
    stats = NULL;
    rows = 0;
}

static size_t status_index(unsigned status) {
    for (size_t i = 0; i + 1 < N_STATUS; i++)
        if (statuses[i] == status)
            return i;
    return N_STATUS - 1;
}

void metrics_observe(const struct route *route, unsigned status, uint64_t duration_us) {
    if (!stats)
        return;
    struct route_stats *s = &stats[route ? router_index(route) : rows - 1];
    atomic_fetch_add_explicit(&s->by_status[status_index(status)], 1, memory_order_relaxed);
    size_t b = 0;
    while (b + 1 < N_BUCKET && (double)duration_us / 1e6 > bucket_le[b])
        b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, duration_us, memory_order_relaxed);
}

void metrics_count(const char *counter) {
    for (size_t i = 0; i < N_COUNTER; i++)
        if (strcmp(counter_names[i], counter) == 0)
            atomic_fetch_add_explicit(&counters[i], 1, memory_order_relaxed);
}

static void route_label(struct buf *out, size_t row) {
    if (row == rows - 1)
        buf_puts(out, "route=\"unmatched\",method=\"\"");
    else
        buf_printf(out, "route=\"%s\",method=\"%s\"", nx_routes[row].pattern,
                   http_method_name(nx_routes[row].method));
}

static void render_requests(struct buf *out) {
    buf_puts(out, "# HELP nexus_http_requests_total HTTP requests by route and status.\n"
                  "# TYPE nexus_http_requests_total counter\n");
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < N_STATUS; i++) {
            uint64_t n = atomic_load_explicit(&stats[r].by_status[i], memory_order_relaxed);
            if (!n)
                continue;
            buf_puts(out, "nexus_http_requests_total{");
            route_label(out, r);
            if (i + 1 < N_STATUS)
                buf_printf(out, ",status=\"%u\"} %llu\n", statuses[i], (unsigned long long)n);
            else
                buf_printf(out, ",status=\"other\"} %llu\n", (unsigned long long)n);
        }
}

static void render_latency(struct buf *out) {
    buf_puts(out, "# HELP nexus_http_request_duration_seconds Request latency by route.\n"
                  "# TYPE nexus_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < rows; r++) {
        uint64_t cumulative = 0;
        for (size_t b = 0; b < N_BUCKET; b++)
            cumulative += atomic_load_explicit(&stats[r].buckets[b], memory_order_relaxed);
        if (!cumulative)
            continue;
        uint64_t total = cumulative;
        cumulative = 0;
        for (size_t b = 0; b < N_BUCKET; b++) {
            cumulative += atomic_load_explicit(&stats[r].buckets[b], memory_order_relaxed);
            buf_puts(out, "nexus_http_request_duration_seconds_bucket{");
            route_label(out, r);
            if (b + 1 < N_BUCKET)
                buf_printf(out, ",le=\"%g\"} %llu\n", bucket_le[b], (unsigned long long)cumulative);
            else
                buf_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
        }
        double sum = (double)atomic_load_explicit(&stats[r].sum_us, memory_order_relaxed) / 1e6;
        buf_puts(out, "nexus_http_request_duration_seconds_sum{");
        route_label(out, r);
        buf_printf(out, "} %.6f\n", sum);
        buf_puts(out, "nexus_http_request_duration_seconds_count{");
        route_label(out, r);
        buf_printf(out, "} %llu\n", (unsigned long long)total);
    }
}

static void render_counters(struct buf *out) {
    for (size_t i = 0; i < N_COUNTER; i++) {
        buf_printf(out, "# TYPE nexus_%s_total counter\nnexus_%s_total %llu\n", counter_names[i],
                   counter_names[i],
                   (unsigned long long)atomic_load_explicit(&counters[i], memory_order_relaxed));
    }
}

void metrics_render(struct buf *out) {
    if (!stats)
        return;
    render_requests(out);
    render_latency(out);
    render_counters(out);
}
