/*
 * metrics.h -- the process's counters, latency histograms and gauges.
 *
 * Recording is a few relaxed atomic operations and no lock, so any layer
 * may record: the HTTP edge observes each request under its series (one
 * per route, plus one for requests that matched none), the cache counts
 * its hits and misses, the database its connections. What is recorded is
 * read back here and rendered elsewhere (http/metrics.c, Prometheus text).
 */
#ifndef NEXUS_CORE_METRICS_H
#define NEXUS_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Statuses counted one by one; any other is counted as "other", the last
 * slot of metrics_series.by_status. */
#define METRICS_STATUSES 20
extern const unsigned metrics_statuses[METRICS_STATUSES];

/* Upper bounds (seconds) of the latency buckets; the last slot of
 * metrics_series.buckets is "+Inf". */
#define METRICS_BUCKETS 12
extern const double metrics_bucket_le[METRICS_BUCKETS];

/* Named event counters ("cache_hits", ...), rendered as nexus_<name>_total. */
enum metrics_counter {
    METRIC_CACHE_HITS,
    METRIC_CACHE_LOCAL_HITS,
    METRIC_CACHE_MISSES,
    METRIC_CACHE_BYPASSES,
    METRIC_CACHE_ERRORS,
    METRIC_CACHE_OVERSIZE,     /* answers served but too large to store */
    METRIC_CACHE_LOCAL_RESETS, /* local tier emptied: the change log had a gap */
    METRIC_DB_STATEMENTS,      /* statements sent to PostgreSQL (a retry after a reconnect too) */
    METRIC__COUNTERS
};

/* Values that go up and down. */
enum metrics_gauge {
    METRIC_DB_CONNECTIONS_OPEN,    /* PostgreSQL connections established */
    METRIC_DB_CONNECTIONS_IN_USE,  /* thread connections held by a request */
    METRIC_DB_CONNECTIONS_WAITING, /* callers waiting for one to be established */
    METRIC_ANSWERS_HELD,           /* write answers held until their cache window passed */
    METRIC_ANSWERS_HELD_PEAK,      /* the most held at once since the process started */
    METRIC__GAUGES
};

/* One series' totals, as read by metrics_series_read. */
struct metrics_series {
    uint64_t by_status[METRICS_STATUSES + 1];
    uint64_t buckets[METRICS_BUCKETS + 1]; /* per bucket, not cumulative */
    uint64_t sum_us;
};

/* Make room for series_count request series (all zero). */
void metrics_init(size_t series_count);
void metrics_free(void);
/* 0 before metrics_init. */
size_t metrics_series_count(void);

/* One request of series (< metrics_series_count) answered with status
 * after duration_us. Does nothing before metrics_init. */
void metrics_record(size_t series, unsigned status, uint64_t duration_us);
void metrics_series_read(size_t series, struct metrics_series *out);

/* Count a named event ("cache_hits"); an unknown name counts nothing. */
void metrics_count(const char *counter);
/* The same by its enum (no lookup: for hot paths). */
void metrics_count_id(enum metrics_counter c);
const char *metrics_counter_name(enum metrics_counter c);
uint64_t metrics_counter_value(enum metrics_counter c);

void metrics_gauge_add(enum metrics_gauge g, int64_t delta);
int64_t metrics_gauge_value(enum metrics_gauge g);

#endif
