/*
 * metrics.c -- relaxed atomic counters, histograms and gauges.
 */
#include "nexus/core/metrics.h"

#include "nexus/core/xmem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

const unsigned metrics_statuses[METRICS_STATUSES] = {200, 201, 202, 204, 304, 400, 401,
                                                     403, 404, 405, 409, 412, 413, 414,
                                                     415, 422, 429, 431, 500, 503};

const double metrics_bucket_le[METRICS_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};

static const char *const counter_names[METRIC__COUNTERS] = {
    [METRIC_CACHE_HITS] = "cache_hits",
    [METRIC_CACHE_LOCAL_HITS] = "cache_local_hits",
    [METRIC_CACHE_MISSES] = "cache_misses",
    [METRIC_CACHE_BYPASSES] = "cache_bypasses",
    [METRIC_CACHE_ERRORS] = "cache_errors",
    [METRIC_CACHE_OVERSIZE] = "cache_oversize",
    [METRIC_CACHE_LOCAL_RESETS] = "cache_local_resets",
    [METRIC_DB_STATEMENTS] = "db_statements",
};

struct series_stats {
    _Atomic uint64_t by_status[METRICS_STATUSES + 1];
    _Atomic uint64_t buckets[METRICS_BUCKETS + 1];
    _Atomic uint64_t sum_us;
};

static struct series_stats *stats;
static size_t rows;
static _Atomic uint64_t counters[METRIC__COUNTERS];
static _Atomic int64_t gauges[METRIC__GAUGES];

void metrics_init(size_t series_count) {
    rows = series_count;
    stats = xcalloc(rows, sizeof *stats);
}

void metrics_free(void) {
    free(stats);
    stats = NULL;
    rows = 0;
}

size_t metrics_series_count(void) {
    return rows;
}

static size_t status_index(unsigned status) {
    for (size_t i = 0; i < METRICS_STATUSES; i++)
        if (metrics_statuses[i] == status)
            return i;
    return METRICS_STATUSES;
}

void metrics_record(size_t series, unsigned status, uint64_t duration_us) {
    if (!stats || series >= rows)
        return;
    struct series_stats *s = &stats[series];
    atomic_fetch_add_explicit(&s->by_status[status_index(status)], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < METRICS_BUCKETS && (double)duration_us / 1e6 > metrics_bucket_le[b])
        b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, duration_us, memory_order_relaxed);
}

void metrics_series_read(size_t series, struct metrics_series *out) {
    memset(out, 0, sizeof *out);
    if (!stats || series >= rows)
        return;
    const struct series_stats *s = &stats[series];
    for (size_t i = 0; i <= METRICS_STATUSES; i++)
        out->by_status[i] = atomic_load_explicit(&s->by_status[i], memory_order_relaxed);
    for (size_t b = 0; b <= METRICS_BUCKETS; b++)
        out->buckets[b] = atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
    out->sum_us = atomic_load_explicit(&s->sum_us, memory_order_relaxed);
}

void metrics_count(const char *counter) {
    for (size_t i = 0; i < METRIC__COUNTERS; i++)
        if (strcmp(counter_names[i], counter) == 0)
            atomic_fetch_add_explicit(&counters[i], 1, memory_order_relaxed);
}

void metrics_count_id(enum metrics_counter c) {
    atomic_fetch_add_explicit(&counters[c], 1, memory_order_relaxed);
}

const char *metrics_counter_name(enum metrics_counter c) {
    return counter_names[c];
}

uint64_t metrics_counter_value(enum metrics_counter c) {
    return atomic_load_explicit(&counters[c], memory_order_relaxed);
}

void metrics_gauge_add(enum metrics_gauge g, int64_t delta) {
    atomic_fetch_add_explicit(&gauges[g], delta, memory_order_relaxed);
}

int64_t metrics_gauge_value(enum metrics_gauge g) {
    return atomic_load_explicit(&gauges[g], memory_order_relaxed);
}
