/*
 * queue.c -- SQL for the job queue.
 */
#include "nexus/jobs/queue.h"

#include "nexus/db/imports.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct db_stmt SQL_ENQUEUE = {
    "INSERT INTO jobs (kind, payload, idempotency_key, max_attempts)"
    " VALUES ($1, $2::jsonb, $3, $4::integer) ON CONFLICT (idempotency_key) DO NOTHING",
    4, 0};
/* When the job was enqueued, in microseconds: with its id, it names the job
 * apart from any other database's job of that id (the mails' Message-ID). */
#define CREATED_US "(extract(epoch FROM created_at) * 1000000)::bigint"
/* The CTEs that end, with MESSAGE, the import of each import job of j
 * made dead (a payload whose import_id is no id names none, and must not
 * fail the statement). */
#define END_DEAD_IMPORTS(MESSAGE)                                                                  \
    NX_SQL_IMPORTS_END_FAILED("SELECT CASE WHEN payload->>'import_id' ~ '^[0-9]{1,18}$'"           \
                              " THEN (payload->>'import_id')::bigint END FROM j"                   \
                              " WHERE kind = 'import' AND state = 'dead'",                         \
                              "'" MESSAGE "'")
static struct db_stmt SQL_REAP = {
    "WITH j AS (UPDATE jobs SET"
    " state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END,"
    " last_error = 'lease expired: the worker stopped while running it',"
    " run_at = now(), lease_expires_at = NULL, locked_by = NULL,"
    " finished_at = CASE WHEN attempts >= max_attempts THEN now() END"
    " WHERE state = 'running' AND lease_expires_at < now()"
    " RETURNING id, kind, payload, attempts, max_attempts, created_at, state)," END_DEAD_IMPORTS(
        NX_IMPORT_WORKER_STOPPED) " SELECT id, kind, payload::text, attempts, "
                                  "max_attempts, " CREATED_US ", state FROM j",
    0, 0};
static struct db_stmt SQL_CLAIM = {
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $1,"
    " lease_expires_at = now() + make_interval(secs => $2::integer)"
    " WHERE id = (SELECT id FROM jobs WHERE state = 'pending' AND run_at <= now()"
    " ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT 1)"
    " RETURNING id, kind, payload::text, attempts, max_attempts, " CREATED_US,
    2, 0};
static struct db_stmt SQL_RENEW = {
    "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3::integer)"
    " WHERE id = $1 AND locked_by = $2 AND state = 'running'",
    3, 0};
/* Only once per attempt matters: attempts above 1 become 1. */
static struct db_stmt SQL_REFUND = {
    "UPDATE jobs SET attempts = 1"
    " WHERE id = $1 AND locked_by = $2 AND state = 'running' AND attempts > 1",
    2, 0};
static struct db_stmt SQL_COMPLETE = {
    "UPDATE jobs SET state = 'done', finished_at = now(), lease_expires_at = NULL"
    " WHERE id = $1 AND locked_by = $2 AND state = 'running'",
    2, 0};
static struct db_stmt SQL_FAIL = {
    "WITH j AS (UPDATE jobs SET"
    " state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END,"
    " last_error = $3, lease_expires_at = NULL, locked_by = NULL,"
    " run_at = CASE WHEN attempts >= max_attempts THEN now()"
    " ELSE now() + make_interval(secs => $4::double precision) END,"
    " finished_at = CASE WHEN attempts >= max_attempts THEN now() END"
    " WHERE id = $1 AND locked_by = $2 AND state = 'running' RETURNING kind, payload, "
    "state)," END_DEAD_IMPORTS(NX_IMPORT_FAILED_EACH_ATTEMPT) " SELECT 1 FROM j",
    4, 0};
/* Over jobs_unfinished_idx: done jobs are never read. */
static struct db_stmt SQL_STATS = {
    "SELECT s.state, count(j.state),"
    " CASE WHEN s.state = 'pending' THEN coalesce(extract(epoch FROM now() -"
    " min(j.run_at) FILTER (WHERE j.run_at <= now())), 0) ELSE 0 END"
    " FROM (VALUES ('pending'), ('running'), ('dead')) AS s(state)"
    " LEFT JOIN (SELECT state, run_at FROM jobs WHERE state <> 'done') j ON j.state = s.state"
    " GROUP BY s.state ORDER BY s.state",
    0, 0};
/* One batch of done jobs past their retention, over jobs_done_idx. */
static struct db_stmt SQL_PURGE = {
    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = 'done'"
    " AND finished_at < now() - make_interval(secs => $1::integer)"
    " ORDER BY finished_at LIMIT $2::integer)",
    2, 0};
static struct db_stmt SQL_LIST = {
    "SELECT id, kind, state, attempts, max_attempts, " NX_SQL_TIMESTAMP(
        "run_at") ", coalesce(last_error, '')"
                  " FROM jobs WHERE $1::text IS NULL OR state = $1 ORDER BY id DESC LIMIT "
                  "$2::integer",
    2, 0};
static struct db_stmt SQL_RETRY = {
    "UPDATE jobs SET state = 'pending', run_at = now(), attempts = 0, lease_expires_at = NULL,"
    " locked_by = NULL, finished_at = NULL WHERE id = $1 AND state IN ('dead', 'pending')",
    1, 0};

enum nx_err queue_enqueue(struct db *db, const char *kind, const json_t *payload,
                          const char *idempotency_key, int max_attempts) {
    char *text = json_dumps(payload, JSON_COMPACT);
    char attempts[16];
    snprintf(attempts, sizeof attempts, "%d", max_attempts);
    const char *params[] = {kind, text, idempotency_key, attempts};
    enum nx_err e = text ? db_exec(db, &SQL_ENQUEUE, params, NULL) : NX_ERR_INTERNAL;
    free(text);
    return e;
}

static int affected(PGresult *r) {
    return r ? (int)strtol(PQcmdTuples(r), NULL, 10) : 0;
}

/* Columns id, kind, payload, attempts, max_attempts, created (µs) of row i. */
static void job_from_row(PGresult *r, int i, struct job *job) {
    job->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    snprintf(job->kind, sizeof job->kind, "%s", PQgetvalue(r, i, 1));
    job->payload = json_loads(PQgetvalue(r, i, 2), 0, NULL);
    job->attempts = (int)strtol(PQgetvalue(r, i, 3), NULL, 10);
    job->max_attempts = (int)strtol(PQgetvalue(r, i, 4), NULL, 10);
    job->created_us = strtoll(PQgetvalue(r, i, 5), NULL, 10);
}

enum nx_err queue_reap(struct db *db, queue_dead_fn on_dead, void *ctx, int *reaped) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_REAP, NULL, &r);
    *reaped = e == NX_OK ? PQntuples(r) : 0;
    for (int i = 0; i < *reaped && on_dead; i++) {
        if (strcmp(PQgetvalue(r, i, 6), "dead") != 0)
            continue;
        struct job job = {0};
        job_from_row(r, i, &job);
        on_dead(ctx, &job);
        job_clear(&job);
    }
    PQclear(r);
    return e;
}

enum nx_err queue_refund(struct db *db, int64_t job_id, const char *worker) {
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)job_id);
    const char *params[] = {id, worker};
    return db_exec(db, &SQL_REFUND, params, NULL);
}

enum nx_err queue_claim(struct db *db, const char *worker, int lease_seconds, struct job *job,
                        bool *found) {
    char lease[16];
    PGresult *r = NULL;
    snprintf(lease, sizeof lease, "%d", lease_seconds);
    const char *params[] = {worker, lease};
    memset(job, 0, sizeof *job);
    enum nx_err e = db_exec(db, &SQL_CLAIM, params, &r);
    *found = e == NX_OK && PQntuples(r) == 1;
    if (*found) {
        job_from_row(r, 0, job);
        snprintf(job->worker, sizeof job->worker, "%s", worker);
    }
    PQclear(r);
    return e;
}

/* Run an UPDATE that matches the job only while worker holds it. */
static enum nx_err update_held(struct db *db, struct db_stmt *st, const char *const *params,
                               bool *held) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, st, params, &r);
    *held = affected(r) == 1;
    PQclear(r);
    return e;
}

enum nx_err queue_renew(struct db *db, int64_t job_id, const char *worker, int lease_seconds,
                        bool *held) {
    char id[24], lease[16];
    snprintf(id, sizeof id, "%lld", (long long)job_id);
    snprintf(lease, sizeof lease, "%d", lease_seconds);
    const char *params[] = {id, worker, lease};
    return update_held(db, &SQL_RENEW, params, held);
}

enum nx_err queue_complete(struct db *db, const struct job *job, const char *worker, bool *held) {
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)job->id);
    const char *params[] = {id, worker};
    return update_held(db, &SQL_COMPLETE, params, held);
}

enum nx_err queue_fail(struct db *db, const struct job *job, const char *worker, const char *error,
                       double delay_seconds, bool *held) {
    char id[24], delay[32];
    snprintf(id, sizeof id, "%lld", (long long)job->id);
    snprintf(delay, sizeof delay, "%.3f", delay_seconds);
    const char *params[] = {id, worker, error, delay};
    return update_held(db, &SQL_FAIL, params, held);
}

double queue_backoff(int attempt, double base, double cap) {
    double delay = base;
    for (int i = 1; i < attempt && delay < cap; i++)
        delay *= 2;
    if (delay > cap)
        delay = cap;
    double jitter = 0.5 + (double)randombytes_uniform(1000000) / 1e6;
    return delay * jitter;
}

enum nx_err queue_stats(struct db *db, PGresult **out) {
    return db_exec(db, &SQL_STATS, NULL, out);
}

enum nx_err queue_purge(struct db *db, int retention_seconds, int batch, int *purged) {
    return db_purge(db, &SQL_PURGE, retention_seconds, batch, purged);
}

enum nx_err queue_list(struct db *db, const char *state, const char *limit, PGresult **out) {
    const char *params[] = {state, limit};
    return db_exec(db, &SQL_LIST, params, out);
}

enum nx_err queue_retry(struct db *db, const char *id, bool *found) {
    PGresult *r = NULL;
    const char *params[] = {id};
    enum nx_err e = db_exec(db, &SQL_RETRY, params, &r);
    *found = affected(r) == 1;
    PQclear(r);
    return e;
}

void job_clear(struct job *job) {
    json_decref(job->payload);
    job->payload = NULL;
}
