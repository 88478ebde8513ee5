/*
 * seed_indexes.c -- the secondary indexes around a bulk seed
 * (db/seed_indexes.h): dropped and listed with the rows, then built two at
 * a time, each on its own connection and thread.
 */
#include "nexus/db/seed_indexes.h"

#include "nexus/core/log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define WORKERS 2

/* The secondary indexes of products, variants and the tables the seed
 * fills after them (numeric attributes, terms in created_at order), kept
 * to be built again. */
#define SQL_LIST_ALL                                                                               \
    "INSERT INTO seed_pending_indexes (name, definition)"                                          \
    " SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"              \
    " AND tablename IN ('products', 'product_variants', 'product_attribute_numbers',"              \
    " 'product_attribute_order', 'product_option_order')"                                          \
    " AND indexname NOT LIKE '%\\_pkey'"
#define SQL_LIST_RETURNING " RETURNING format('DROP INDEX %I', name)"
/* What writers check and look up, by an index's definition: the unique
 * indexes (a sku, a slug, a product's options are checked against them)
 * and those that find a product's variants and numbers. */
#define OF_WRITERS(definition)                                                                     \
    "(" definition " LIKE 'CREATE UNIQUE INDEX %' OR " definition                                  \
    " LIKE '% USING btree (product_id%')"
static struct db_stmt SQL_LIST[] = {
    [INDEXES_ALL] = {SQL_LIST_ALL SQL_LIST_RETURNING, 0, 0},
    [INDEXES_OF_READERS] = {SQL_LIST_ALL " AND NOT " OF_WRITERS("indexdef") SQL_LIST_RETURNING, 0,
                            0},
};
static struct db_stmt SQL_TAKE_WRITERS = {
    "DELETE FROM seed_pending_indexes WHERE " OF_WRITERS("definition") " RETURNING definition", 0,
    0};
static struct db_stmt SQL_EXISTS = {"SELECT EXISTS (SELECT FROM seed_pending_indexes)", 0, 0};
/* The GIN builds first (the longest: with two at a time the others fill
 * in beside them), then the rest. */
static struct db_stmt SQL_PENDING = {"SELECT name, definition FROM seed_pending_indexes"
                                     " ORDER BY definition LIKE '% USING gin %' DESC, name DESC",
                                     0, 0};
static struct db_stmt SQL_BUILT = {"DELETE FROM seed_pending_indexes WHERE name = $1", 1, 0};

/* e, after logging why the statement what failed, if it did: a build that
 * finds duplicates is a conflict, which the database layer does not log as
 * an error. Call it before anything else runs on db (a rollback's answer
 * replaces the message). */
static enum nx_err said(struct db *db, const char *what, enum nx_err e) {
    if (e != NX_OK)
        log_error("seed.indexes", NULL, "%s: %s", what, PQerrorMessage(db_conn(db)));
    return e;
}

enum nx_err seed_indexes_drop(struct db *db, enum index_set set) {
    PGresult *drops = NULL;
    enum nx_err e = db_exec(db, &SQL_LIST[set], NULL, &drops);
    for (int i = 0; e == NX_OK && i < PQntuples(drops); i++)
        e = db_exec_sql(db, PQgetvalue(drops, i, 0));
    PQclear(drops);
    return e;
}

enum nx_err seed_indexes_restore_writers(struct db *db) {
    PGresult *builds = NULL;
    enum nx_err e = db_exec_sql(db, "SET maintenance_work_mem = '1GB'");
    if (e == NX_OK)
        e = db_exec(db, &SQL_TAKE_WRITERS, NULL, &builds);
    for (int i = 0; e == NX_OK && i < PQntuples(builds); i++)
        e = said(db, PQgetvalue(builds, i, 0), db_exec_sql(db, PQgetvalue(builds, i, 0)));
    PQclear(builds);
    return e;
}

enum nx_err seed_indexes_pending(struct db *db, bool *pending) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_EXISTS, NULL, &r);
    *pending = e == NX_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return e;
}

/* One statement to run: an index build (named, its row removed in the
 * same transaction) or, unnamed, one on its own. */
struct job {
    const char *name;
    const char *sql;
};

/* The jobs the workers take in turn; the first failure stops the rest. */
struct queue {
    pthread_mutex_t lock;
    const struct job *jobs;
    int count, next;
    bool failed, progress;
};

static const struct job *take(struct queue *q) {
    pthread_mutex_lock(&q->lock);
    const struct job *j = q->failed || q->next == q->count ? NULL : &q->jobs[q->next++];
    pthread_mutex_unlock(&q->lock);
    return j;
}

static void fail(struct queue *q) {
    pthread_mutex_lock(&q->lock);
    q->failed = true;
    pthread_mutex_unlock(&q->lock);
}

static enum nx_err run_job(struct db *db, const struct job *j) {
    if (!j->name)
        return said(db, j->sql, db_exec_sql(db, j->sql));
    const char *params[] = {j->name};
    enum nx_err e = db_begin(db);
    if (e == NX_OK)
        e = said(db, j->sql, db_exec_sql(db, j->sql));
    if (e == NX_OK)
        e = db_exec(db, &SQL_BUILT, params, NULL);
    if (e == NX_OK)
        e = db_commit(db);
    db_rollback(db); /* a no-op after the commit */
    return e;
}

struct worker {
    pthread_t thread;
    struct db *db;
    struct queue *queue;
};

static void *work(void *arg) {
    struct worker *w = arg;
    const struct job *j;
    while ((j = take(w->queue))) {
        if (w->queue->progress)
            fprintf(stderr, "seed: %s %s\n", j->name ? "building" : "running",
                    j->name ? j->name : j->sql);
        if (run_job(w->db, j) != NX_OK)
            fail(w->queue);
    }
    return NULL;
}

/* Run the jobs on the connections, one thread each (the first on this
 * one), until done or one fails. */
static enum nx_err run_all(struct db **dbs, int n, const struct job *jobs, int count,
                           bool progress) {
    struct queue q = {PTHREAD_MUTEX_INITIALIZER, jobs, count, 0, false, progress};
    struct worker workers[WORKERS];
    int started = 1;
    for (int i = 0; i < n; i++)
        workers[i] = (struct worker){0, dbs[i], &q};
    for (int i = 1; i < n; i++)
        if (pthread_create(&workers[i].thread, NULL, work, &workers[i]) == 0)
            started++;
        else
            break;
    work(&workers[0]);
    for (int i = 1; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    pthread_mutex_destroy(&q.lock);
    return q.failed ? NX_ERR_INTERNAL : NX_OK;
}

/* A connection for the builds: no statement timeout, room to sort. */
static enum nx_err prepare(struct db *db) {
    enum nx_err e = db_exec_sql(db, "SET statement_timeout = 0");
    if (e == NX_OK)
        e = db_exec_sql(db, "SET maintenance_work_mem = '1GB'");
    return e;
}

/* The listed builds, then the statistics of the tables they served
 * (ANALYZE also samples the indexes' expressions, so it comes after). */
static enum nx_err build_and_analyze(struct db **dbs, int n, bool progress) {
    PGresult *pending = NULL;
    enum nx_err e = db_exec(dbs[0], &SQL_PENDING, NULL, &pending);
    int count = e == NX_OK ? PQntuples(pending) : 0;
    struct job builds[64];
    if (count > (int)(sizeof builds / sizeof builds[0])) {
        log_error("seed.indexes", NULL, "%d indexes to build: more than expected", count);
        e = NX_ERR_INTERNAL;
    }
    for (int i = 0; e == NX_OK && i < count; i++)
        builds[i] = (struct job){PQgetvalue(pending, i, 0), PQgetvalue(pending, i, 1)};
    if (e == NX_OK)
        e = run_all(dbs, n, builds, count, progress);
    PQclear(pending);
    static const struct job ANALYZE[] = {
        {NULL, "ANALYZE products"},
        {NULL, "ANALYZE product_variants, product_attribute_numbers, product_attribute_order,"
               " product_option_order, categories"}};
    if (e == NX_OK)
        e = run_all(dbs, n, ANALYZE, 2, progress);
    return e;
}

enum nx_err seed_indexes_build(struct db *db, const char *conninfo, bool progress) {
    struct db *dbs[WORKERS] = {db, conninfo ? db_open(conninfo) : NULL};
    int n = dbs[1] && prepare(dbs[1]) == NX_OK ? 2 : 1; /* else all on this one */
    enum nx_err e = prepare(db);
    if (e == NX_OK)
        e = build_and_analyze(dbs, n, progress);
    if (dbs[1])
        db_close(dbs[1]);
    return e;
}
