/*
 * ops.c -- /healthz, /readyz, /metrics and /openapi.yaml.
 *
 * /healthz says the process runs; /readyz says whether it can serve:
 * PostgreSQL must answer, Redis is reported but never makes us unready
 * (reads fall back to PostgreSQL).
 */
#include "nexus/api/ops.h"

#include "nexus/cache/cache.h"
#include "nexus/core/embedded.h"
#include "nexus/db/db.h"
#include "nexus/db/replica.h"
#include "nexus/http/metrics.h"
#include "nexus/http/problem.h"
#include "nexus/jobs/queue.h"
#include "nexus/model/catalog.h"

#include <pthread.h>
#include <string.h>

static struct db_stmt SQL_PING = {"SELECT 1", 0, 0};

enum nx_err api_healthz(struct request *req, struct response *res) {
    (void)req;
    json_t *body = json_pack("{s:s}", "status", "ok");
    response_json(res, 200, body);
    json_decref(body);
    return NX_OK;
}

static const char *redis_state(void) {
    switch (cache_ping()) {
    case CACHE_OK:
        return "ok";
    case CACHE_DISABLED:
        return "disabled";
    default:
        return "unavailable";
    }
}

/* A SELECT 1 answers in milliseconds: a server silent for this long is
 * not ready, and a balancer or an orchestrator asking should learn so
 * well within its own timeout, not after a statement's (the connection is
 * then given up and made again, as for any hung answer). */
enum { READYZ_ANSWER_MS = 2000 };

enum nx_err api_readyz(struct request *req, struct response *res) {
    db_thread_bound_answers(READYZ_ANSWER_MS);
    struct db *db = db_thread(req->request_id);
    bool db_ok = db && db_exec(db, &SQL_PING, NULL, NULL) == NX_OK;
    /* The replica is asked also while the primary is silent: it may still
     * serve reads, and an operator needs to know whether it does. */
    const char *replica = replica_state_name(replica_check(req->request_id, db_ok));
    db_thread_bound_answers(0);
    json_t *checks = json_pack("{s:s, s:s, s:s}", "database", db_ok ? "ok" : "unavailable", "redis",
                               redis_state(), "replica", replica);
    if (!db_ok) {
        req->problem_extra = json_pack("{s:o}", "checks", checks);
        req->retry_after = 5;
        return problem_detail(req, NX_ERR_UNAVAILABLE, "the database is not answering");
    }
    json_t *body = json_pack("{s:s, s:o}", "status", "ready", "checks", checks);
    response_json(res, 200, body);
    json_decref(body);
    return NX_OK;
}

/* Queue depth by state and the age of the oldest due job, from PostgreSQL
 * (left out while it does not answer). */
static void render_queue(struct request *req, struct buf *out) {
    struct db *db = db_thread(req->request_id);
    PGresult *r = NULL;
    if (!db || queue_stats(db, &r) != NX_OK)
        return;
    buf_puts(out, "# HELP nexus_jobs Jobs in the queue by state.\n# TYPE nexus_jobs gauge\n");
    for (int i = 0; i < PQntuples(r); i++)
        buf_printf(out, "nexus_jobs{state=\"%s\"} %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    for (int i = 0; i < PQntuples(r); i++)
        if (strcmp(PQgetvalue(r, i, 0), "pending") == 0)
            buf_printf(out,
                       "# HELP nexus_jobs_oldest_due_seconds Age of the oldest job that is due.\n"
                       "# TYPE nexus_jobs_oldest_due_seconds gauge\n"
                       "nexus_jobs_oldest_due_seconds %s\n",
                       PQgetvalue(r, i, 2));
    PQclear(r);
}

enum nx_err api_metrics(struct request *req, struct response *res) {
    struct buf out = {0};
    metrics_render(&out);
    replica_render_metrics(&out);
    render_queue(req, &out);
    size_t len;
    char *text = buf_take(&out, &len);
    response_take(res, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    return NX_OK;
}

static char openapi_etag[NX_ETAG_LEN + 1];

static void tag_openapi(void) {
    etag_of((const char *)nx_openapi_spec.data, nx_openapi_spec.len, openapi_etag);
}

/* The document is compiled in, so its ETag is computed once; a client
 * revalidates it with If-None-Match (the server answers 304). */
enum nx_err api_openapi(struct request *req, struct response *res) {
    (void)req;
    static pthread_once_t tagged = PTHREAD_ONCE_INIT;
    pthread_once(&tagged, tag_openapi);
    char *copy = xmalloc(nx_openapi_spec.len);
    memcpy(copy, nx_openapi_spec.data, nx_openapi_spec.len);
    response_take(res, 200, "application/yaml; charset=utf-8", copy, nx_openapi_spec.len);
    response_header(res, "Cache-Control", "no-cache");
    response_header(res, "ETag", openapi_etag);
    return NX_OK;
}
