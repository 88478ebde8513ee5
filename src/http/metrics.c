/*
 * metrics.c -- Prometheus text for requests, latency, named events and
 * gauges.
 */
#include "nexus/http/metrics.h"

#include "nexus/auth/password.h"

#include <stdlib.h>

/* The series: one per route, "unmatched", then one per (route, method)
 * for a template's other methods. */
#define OTHER_METHODS_AT (nx_route_count + 1)

size_t metrics_series_needed(void) {
    return OTHER_METHODS_AT + nx_route_count * HTTP__COUNT;
}

void metrics_observe(const struct route *route, const struct route *pattern,
                     enum http_method method, unsigned status, uint64_t duration_us) {
    size_t row = nx_route_count;
    if (route)
        row = router_index(route);
    else if (pattern && method < HTTP__COUNT)
        row = OTHER_METHODS_AT + router_index(pattern) * HTTP__COUNT + (size_t)method;
    metrics_record(row, status, duration_us);
}

static void route_label(struct buf *out, size_t row) {
    if (row < nx_route_count)
        buf_printf(out, "route=\"%s\",method=\"%s\"", nx_routes[row].pattern,
                   http_method_name(nx_routes[row].method));
    else if (row == nx_route_count)
        buf_puts(out, "route=\"unmatched\",method=\"\"");
    else
        buf_printf(out, "route=\"%s\",method=\"%s\"",
                   nx_routes[(row - OTHER_METHODS_AT) / HTTP__COUNT].pattern,
                   http_method_name((enum http_method)((row - OTHER_METHODS_AT) % HTTP__COUNT)));
}

/* "name{route=...,method=..." of one sample; the caller ends the labels. */
static void sample_start(struct buf *out, const char *name, size_t row) {
    buf_puts(out, name);
    buf_puts(out, "{");
    route_label(out, row);
}

static void render_requests(struct buf *out, const struct metrics_series *s, size_t rows) {
    buf_puts(out, "# HELP nexus_http_requests_total HTTP requests by route and status.\n"
                  "# TYPE nexus_http_requests_total counter\n");
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i <= METRICS_STATUSES; i++) {
            uint64_t n = s[r].by_status[i];
            if (!n)
                continue;
            sample_start(out, "nexus_http_requests_total", r);
            if (i < METRICS_STATUSES)
                buf_printf(out, ",status=\"%u\"} %llu\n", metrics_statuses[i],
                           (unsigned long long)n);
            else
                buf_printf(out, ",status=\"other\"} %llu\n", (unsigned long long)n);
        }
}

static void render_histogram(struct buf *out, const struct metrics_series *s, size_t r) {
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= METRICS_BUCKETS; b++) {
        cumulative += s->buckets[b];
        sample_start(out, "nexus_http_request_duration_seconds_bucket", r);
        if (b < METRICS_BUCKETS)
            buf_printf(out, ",le=\"%g\"} %llu\n", metrics_bucket_le[b],
                       (unsigned long long)cumulative);
        else
            buf_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
    }
    sample_start(out, "nexus_http_request_duration_seconds_sum", r);
    buf_printf(out, "} %.6f\n", (double)s->sum_us / 1e6);
    sample_start(out, "nexus_http_request_duration_seconds_count", r);
    buf_printf(out, "} %llu\n", (unsigned long long)cumulative);
}

static void render_latency(struct buf *out, const struct metrics_series *s, size_t rows) {
    buf_puts(out, "# HELP nexus_http_request_duration_seconds Request latency by route.\n"
                  "# TYPE nexus_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < rows; r++) {
        uint64_t total = 0;
        for (size_t b = 0; b <= METRICS_BUCKETS; b++)
            total += s[r].buckets[b];
        if (total)
            render_histogram(out, &s[r], r);
    }
}

static void render_counters(struct buf *out) {
    for (int i = 0; i < METRIC__COUNTERS; i++) {
        const char *name = metrics_counter_name((enum metrics_counter)i);
        buf_printf(out, "# TYPE nexus_%s_total counter\nnexus_%s_total %llu\n", name, name,
                   (unsigned long long)metrics_counter_value((enum metrics_counter)i));
    }
    buf_printf(out,
               "# HELP nexus_password_hashes_total argon2id runs: hashes and verifications.\n"
               "# TYPE nexus_password_hashes_total counter\nnexus_password_hashes_total %llu\n",
               (unsigned long long)password_runs());
}

static void render_gauges(struct buf *out) {
    static const struct {
        enum metrics_gauge gauge;
        const char *name;
        const char *help;
    } gauges[] = {
        {METRIC_DB_CONNECTIONS_OPEN, "nexus_db_connections_open",
         "PostgreSQL connections this process holds open."},
        {METRIC_DB_CONNECTIONS_IN_USE, "nexus_db_connections_in_use",
         "Connections held by a request while one of its stages runs."},
        {METRIC_DB_CONNECTIONS_WAITING, "nexus_db_connections_waiting",
         "Requests waiting while their connection is being established."},
        {METRIC_ANSWERS_HELD, "nexus_answers_held",
         "Write answers held, no thread waiting, until their cache window passes."},
        {METRIC_ANSWERS_HELD_PEAK, "nexus_answers_held_peak",
         "The most write answers held at once since the process started."},
    };
    for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++)
        buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", gauges[i].name, gauges[i].help,
                   gauges[i].name, gauges[i].name, (long long)metrics_gauge_value(gauges[i].gauge));
}

void metrics_render(struct buf *out) {
    size_t rows = metrics_series_count();
    if (!rows)
        return;
    struct metrics_series *s = xcalloc(rows, sizeof *s);
    for (size_t r = 0; r < rows; r++)
        metrics_series_read(r, &s[r]);
    render_requests(out, s, rows);
    render_latency(out, s, rows);
    render_counters(out);
    render_gauges(out);
    free(s);
}
