/*
 * queue.h -- the PostgreSQL job queue.
 *
 * Enqueue runs in the caller's open transaction: the job is committed or
 * rolled back with the change that caused it (the outbox pattern), and a
 * trigger NOTIFYs sleeping workers at commit. Workers claim due jobs with
 * FOR UPDATE SKIP LOCKED under a lease; a job whose lease ran out (its
 * worker died) is claimable again. Delivery is at least once.
 */
#ifndef NEXUS_JOBS_QUEUE_H
#define NEXUS_JOBS_QUEUE_H

#include "nexus/db/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define NX_JOB_CHANNEL "nexus_jobs"

struct job {
    int64_t id;
    char kind[65];
    json_t *payload; /* owned */
    int attempts;    /* including this one */
    int max_attempts;
    int64_t created_us; /* when it was enqueued, µs since the epoch */
    char worker[128];   /* the worker holding its lease (queue_claim's) */
};

/* Enqueue in the caller's transaction. A job with the same idempotency key
 * (may be NULL) is not enqueued twice. */
enum nx_err queue_enqueue(struct db *db, const char *kind, const json_t *payload,
                          const char *idempotency_key, int max_attempts);

/* Give expired leases back: running jobs whose worker is gone become
 * pending (or dead, when that was their last attempt; an import job's
 * import then ends failed in the same statement). Each job made dead so
 * is handed to on_dead (may be NULL), which must not keep it.
 * *reaped: how many leases were taken back. */
typedef void (*queue_dead_fn)(void *ctx, const struct job *job);
enum nx_err queue_reap(struct db *db, queue_dead_fn on_dead, void *ctx, int *reaped);

/* The running attempt made progress that lasts (committed work a later
 * attempt does not redo): it counts as the first, so that only attempts
 * in a row that made none (a job that kills its worker at the same
 * point each time) use up max_attempts. Only while worker holds it. */
enum nx_err queue_refund(struct db *db, int64_t job_id, const char *worker);

/* Claim the next due job for worker for lease_seconds. *found is false
 * when none is due. */
enum nx_err queue_claim(struct db *db, const char *worker, int lease_seconds, struct job *job,
                        bool *found);

/* Extend the lease of a job this worker is running; *held is false when
 * the lease was lost (taken back after it expired). */
enum nx_err queue_renew(struct db *db, int64_t job_id, const char *worker, int lease_seconds,
                        bool *held);

/* The job is done. Recorded only while this worker holds its lease:
 * *held says whether it still did. */
enum nx_err queue_complete(struct db *db, const struct job *job, const char *worker, bool *held);

/* The attempt failed: retry after delay_seconds, or dead after the last
 * attempt, keeping error (only while this worker holds the lease). An
 * import job made dead ends its import failed in the same statement, if
 * the job's own last attempt did not. */
enum nx_err queue_fail(struct db *db, const struct job *job, const char *worker, const char *error,
                       double delay_seconds, bool *held);

/* Exponential backoff with jitter for the attempt that just failed:
 * base * 2^(attempt-1), capped, times a random factor in [0.5, 1.5). */
double queue_backoff(int attempt, double base, double cap);

/* Count unfinished jobs per state (pending, running, dead: done jobs are
 * not counted) and the age in seconds of the oldest due job. */
enum nx_err queue_stats(struct db *db, PGresult **out);

/* Delete up to batch done jobs that finished more than retention_seconds
 * ago, oldest first; *purged: how many. */
enum nx_err queue_purge(struct db *db, int retention_seconds, int batch, int *purged);

/* Rows for `nexus jobs list` (state NULL: all), newest first. */
enum nx_err queue_list(struct db *db, const char *state, const char *limit, PGresult **out);

/* Make a dead (or any unfinished) job due now with fresh attempts;
 * *found is false when there is no such job or it is done. */
enum nx_err queue_retry(struct db *db, const char *id, bool *found);

void job_clear(struct job *job);

#endif
