/*
 * db.c -- connection lifecycle, lazy prepared statements, SQLSTATE mapping.
 *
 * Reconnection: a connection found broken is closed; the next attempt is
 * allowed after a backoff (from the end of the failed attempt) that doubles
 * from 50 ms to 2 s, with jitter so that many threads do not reconnect in
 * lock-step. A statement that fails
 * because an idle connection had been cut (PostgreSQL restarted while we
 * were idle) is retried once on a fresh connection when no transaction is
 * open: nothing was executed, so the retry is safe. The replica connection
 * is never replaced while reads are routed to it (db_thread_route_reads).
 */
#include "nexus/db/db.h"

#include "nexus/core/config.h"
#include "nexus/core/log.h"
#include "nexus/core/metrics.h"
#include "nexus/core/xmem.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How PostgreSQL plans the session's prepared statements (plan_cache_mode):
 * auto for every statement but the built texts whose plan fits any values
 * (struct sql_builder's prepare), which run with force_generic_plan. */
enum plan_mode { PLAN_AUTO, PLAN_GENERIC, PLAN_UNKNOWN };

struct db {
    PGconn *conn;
    char *conninfo;
    int depth;       /* open transaction levels: 1 for a transaction, +1 per savepoint */
    int pinned;      /* levels owned by db_begin_outer (0 or 1) */
    bool registered; /* in the thread list, closed by db_close_all */
    bool counted;    /* established: counted in nexus_db_connections_open */
    bool held;       /* a request's stage holds it: counted as in use */
    uint64_t next_attempt_us;
    uint32_t backoff_ms;
    uint64_t serial;             /* connections established so far */
    const char *connect_timeout; /* seconds, as libpq takes it */
    const char *target;          /* "primary" or "replica", for the log */
    const char *request_id;
    unsigned char prepared[NX_MAX_STATEMENTS / 8];
    char *built[NX_MAX_BUILT_STATEMENTS]; /* texts prepared as "b<index>" */
    size_t built_count;
    enum plan_mode plan_mode;  /* the session's plan_cache_mode, as last set */
    const char *begin_pending; /* a BEGIN sent with the next statement (db_begin_snapshot) */
    bool commit_unread;        /* a snapshot's COMMIT sent, its answer not read yet */
    char sqlstate[6];
    char constraint[64];
    bool lost_conflict; /* since db_thread_forget_failures: see db.h */
    bool hung;          /* an answer did not come within answer_timeout_ms */
    /* Never connect anew: reads routed here were found safe on this very
     * session (db_thread_route_reads), and a new one may reach another or
     * an older server that nobody checked. */
    bool keep_session;
    PGcancel *cancel; /* for db_cancel_all from another thread: under registry_lock */
    struct db *next;
};

static _Atomic int next_slot = 1;
static int statement_timeout_ms = 5000;
/* How long a thread connection waits for an answer (0: as long as it
 * takes): see db_set_answer_timeout. */
static int answer_timeout_ms;
/* A shorter wait for this thread's next statements (0: answer_timeout_ms):
 * see db_thread_bound_answers. */
static _Thread_local int thread_answer_bound_ms;
static _Thread_local struct db *thread_db;
/* This thread's connection to DATABASE_READ_URL, and whether db_thread
 * hands it out instead of thread_db (see db/replica.h). */
static _Thread_local struct db *thread_replica;
static _Thread_local bool reads_to_replica;
/* A statement on this thread hit statement_timeout since
 * db_thread_forget_failures (on either connection): see db.h. */
static _Thread_local bool thread_timed_out;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct db *registry;

void db_set_statement_timeout(int ms) {
    statement_timeout_ms = ms;
}

void db_set_answer_timeout(int ms) {
    answer_timeout_ms = ms;
}

int db_thread_bound_answers(int ms) {
    int was = thread_answer_bound_ms;
    thread_answer_bound_ms = ms;
    return was;
}

/* The wait for an answer on db (0: unbounded). */
static int answer_bound_ms(const struct db *db) {
    if (!db->registered)
        return 0;
    if (thread_answer_bound_ms > 0 &&
        (answer_timeout_ms <= 0 || thread_answer_bound_ms < answer_timeout_ms))
        return thread_answer_bound_ms;
    return answer_timeout_ms;
}

static void reset_prepared(struct db *db) {
    memset(db->prepared, 0, sizeof db->prepared);
    for (size_t i = 0; i < db->built_count; i++)
        free(db->built[i]);
    db->built_count = 0;
}

/* Replace db's cancel handle; PQcancel may be using the old one on another
 * thread (db_cancel_all) until the lock is ours. */
static void set_cancel(struct db *db, PGcancel *cancel) {
    pthread_mutex_lock(&registry_lock);
    PGcancel *old = db->cancel;
    db->cancel = cancel;
    pthread_mutex_unlock(&registry_lock);
    if (old)
        PQfreeCancel(old);
}

/* Close the libpq connection, if any, and keep the gauge of open ones. */
static void finish_connection(struct db *db) {
    if (db->counted)
        metrics_gauge_add(METRIC_DB_CONNECTIONS_OPEN, -1);
    db->counted = false;
    set_cancel(db, NULL);
    PQfinish(db->conn);
    db->conn = NULL;
    db->commit_unread = false;
}

static void drop_connection(struct db *db) {
    finish_connection(db);
    db->depth = db->pinned = 0;
    reset_prepared(db);
}

/* Per-session limits: a runaway query, lock wait or forgotten transaction
 * must not hold a connection forever. No JIT compilation: a statement
 * planned once for any value of its LIMIT is costed for a tenth of the
 * table, which at a million products passed jit_above_cost, and each run
 * of a page sorted by name then spent 9 ms compiling what it ran in 0.1.
 * At least 32 MB of work_mem (PostgreSQL's default is 4): a count over a
 * broad filter read from an index holds a bitmap of its rows, which past
 * work_mem keeps only pages and checks every row of them again (for
 * attr.color=red at a million products, 222,419 rows, 3.6 s, against
 * 0.19 s with every row kept). */
static bool configure_session(struct db *db) {
    static const char sql[] = "SELECT set_config('statement_timeout', $1, false),"
                              " set_config('lock_timeout', $1, false),"
                              " set_config('idle_in_transaction_session_timeout', $2, false),"
                              " set_config('TimeZone', 'UTC', false),"
                              " set_config('plan_cache_mode', 'auto', false),"
                              " set_config('jit', 'off', false),"
                              " set_config('work_mem', CASE WHEN pg_size_bytes("
                              "current_setting('work_mem')) < 33554432 THEN '32MB'"
                              " ELSE current_setting('work_mem') END, false)";
    char stmt_ms[16], idle_ms[16];
    snprintf(stmt_ms, sizeof stmt_ms, "%d", statement_timeout_ms);
    snprintf(idle_ms, sizeof idle_ms, "%d", statement_timeout_ms * 4);
    const char *const params[] = {stmt_ms, idle_ms};
    PGresult *r = PQexecParams(db->conn, sql, 2, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok;
}

/* Server notices ("relation already exists, skipping") go to the log as
 * JSON lines, not raw to stderr. */
static void on_notice(void *arg, const char *message) {
    (void)arg;
    log_debug("db.notice", NULL, "%s", message);
}

/* An event of db's connection, naming the server it is to: an operator
 * must tell a lost replica (reads move to the primary) from a lost primary. */
#define log_db(level, db, event, ...)                                                              \
    nx_log_fields(level, event, (db)->request_id, &(struct log_field){"target", (db)->target}, 1,  \
                  __VA_ARGS__)

static bool connect_now(struct db *db) {
    /* Our defaults come first so that the URL (dbname, expanded) overrides. */
    const char *const keys[] = {"connect_timeout",  "keepalives", "keepalives_idle",
                                "application_name", "dbname",     NULL};
    const char *const vals[] = {db->connect_timeout, "1", "30", "nexus", db->conninfo, NULL};
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(db->conn) != CONNECTION_OK || !configure_session(db)) {
        log_db(LOG_WARN, db, "db.connect", "%s", PQerrorMessage(db->conn));
        drop_connection(db);
        return false;
    }
    PQsetNoticeProcessor(db->conn, on_notice, NULL);
    reset_prepared(db);
    set_cancel(db, PQgetCancel(db->conn));
    db->plan_mode = PLAN_AUTO;
    db->serial++;
    db->counted = true;
    metrics_gauge_add(METRIC_DB_CONNECTIONS_OPEN, 1);
    return true;
}

/* The next attempt to connect waits a backoff that doubles, with jitter. */
static void back_off(struct db *db, uint64_t now) {
    db->backoff_ms = db->backoff_ms ? db->backoff_ms * 2 : 50;
    if (db->backoff_ms > 2000)
        db->backoff_ms = 2000;
    uint32_t jitter = randombytes_uniform(db->backoff_ms / 2 + 1);
    db->next_attempt_us = now + (uint64_t)(db->backoff_ms / 2 + jitter) * 1000u;
}

/* Connect if not connected and the backoff allows; true when usable. */
static bool ensure_connected(struct db *db) {
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
        return true;
    if (db->conn)
        drop_connection(db);
    if (db->keep_session)
        return false;
    if (now_us() < db->next_attempt_us)
        return false;
    /* The caller waits for the connect (up to connect_timeout); inside a
     * backoff it does not wait at all, it fails at once above. */
    metrics_gauge_add(METRIC_DB_CONNECTIONS_WAITING, 1);
    bool connected = connect_now(db);
    metrics_gauge_add(METRIC_DB_CONNECTIONS_WAITING, -1);
    if (connected) {
        db->backoff_ms = 0;
        db->next_attempt_us = 0;
        return true;
    }
    /* From the attempt's end: one that waited out connect_timeout (a server
     * that hangs) took longer than the backoff itself. */
    back_off(db, now_us());
    return false;
}

static struct db *db_new(const char *conninfo) {
    struct db *db = xcalloc(1, sizeof *db);
    db->conninfo = xstrdup(conninfo);
    db->connect_timeout = "3";
    db->target = "primary";
    return db;
}

/* A thread connection, closed by db_close_all. */
static struct db *db_new_registered(const char *conninfo) {
    struct db *db = db_new(conninfo);
    pthread_mutex_lock(&registry_lock);
    db->next = registry;
    db->registered = true;
    registry = db;
    pthread_mutex_unlock(&registry_lock);
    return db;
}

struct db *db_thread(const char *request_id) {
    if (reads_to_replica && thread_replica) {
        thread_replica->request_id = request_id;
        return ensure_connected(thread_replica) ? thread_replica : NULL;
    }
    if (!thread_db)
        thread_db = db_new_registered(nx_config->database_url);
    thread_db->request_id = request_id;
    if (!ensure_connected(thread_db))
        return NULL;
    if (!thread_db->held) {
        thread_db->held = true;
        metrics_gauge_add(METRIC_DB_CONNECTIONS_IN_USE, 1);
    }
    return thread_db;
}

struct db *db_thread_replica(const char *request_id) {
    if (!nx_config || !nx_config->database_read_url)
        return NULL;
    if (!thread_replica) {
        thread_replica = db_new_registered(nx_config->database_read_url);
        /* A replica slow to connect costs the read that waits for it: keep
         * the wait short (libpq's least), the primary serves meanwhile. */
        thread_replica->connect_timeout = "2";
        thread_replica->target = "replica";
    }
    thread_replica->request_id = request_id;
    return ensure_connected(thread_replica) ? thread_replica : NULL;
}

void db_thread_route_reads(bool to_replica) {
    reads_to_replica = to_replica;
    if (thread_replica)
        thread_replica->keep_session = to_replica;
}

bool db_thread_reads_replica(void) {
    return reads_to_replica && thread_replica;
}

void db_disconnect(struct db *db) {
    drop_connection(db);
    back_off(db, now_us());
}

uint64_t db_connection_serial(const struct db *db) {
    return db->serial;
}

/* The primary's WAL position, fixed-width hex so that positions compare
 * as text (see cache/catalog.h). The insert position, which is past every
 * record already inserted: pg_current_wal_lsn() is the write position,
 * and with synchronous_commit off a commit may still wait in the WAL
 * buffers behind it (a replica that replayed that far lacks the write). */
static struct db_stmt SQL_WAL_POSITION = {
    "SELECT upper(lpad(to_hex((pg_current_wal_insert_lsn() - '0/0')::bigint), 16, '0'))", 0, 0};

bool db_wal_position(char *out, size_t cap) {
    bool held = thread_db && thread_db->held;
    bool routed = reads_to_replica;
    reads_to_replica = false; /* the position is the primary's */
    struct db *db = db_thread(NULL);
    PGresult *r = NULL;
    bool ok = db && db_exec(db, &SQL_WAL_POSITION, NULL, &r) == NX_OK && PQntuples(r) == 1 &&
              (size_t)PQgetlength(r, 0, 0) < cap;
    if (ok)
        snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!held)
        db_thread_release();
    reads_to_replica = routed;
    return ok;
}

void db_thread_release(void) {
    if (thread_db && thread_db->held) {
        thread_db->held = false;
        metrics_gauge_add(METRIC_DB_CONNECTIONS_IN_USE, -1);
    }
}

struct db *db_open(const char *conninfo) {
    struct db *db = db_new(conninfo);
    if (!connect_now(db)) {
        db_close(db);
        return NULL;
    }
    return db;
}

void db_close(struct db *db) {
    if (!db)
        return;
    finish_connection(db);
    reset_prepared(db);
    if (db->held)
        metrics_gauge_add(METRIC_DB_CONNECTIONS_IN_USE, -1);
    free(db->conninfo);
    free(db);
}

size_t db_cancel_all(void) {
    size_t sent = 0;
    char err[256];
    pthread_mutex_lock(&registry_lock);
    for (struct db *db = registry; db; db = db->next)
        sent += db->cancel && PQcancel(db->cancel, err, sizeof err);
    pthread_mutex_unlock(&registry_lock);
    return sent;
}

void db_close_all(void) {
    pthread_mutex_lock(&registry_lock);
    struct db *db = registry;
    registry = NULL;
    pthread_mutex_unlock(&registry_lock);
    while (db) {
        struct db *next = db->next;
        db_close(db);
        db = next;
    }
}

/* Take db out of the thread connections (its thread is ending). */
static void unregister(struct db *db) {
    pthread_mutex_lock(&registry_lock);
    for (struct db **link = &registry; *link; link = &(*link)->next)
        if (*link == db) {
            *link = db->next;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
}

void db_thread_close(void) {
    struct db *mine[] = {thread_db, thread_replica};
    thread_db = thread_replica = NULL;
    for (size_t i = 0; i < sizeof mine / sizeof *mine; i++)
        if (mine[i]) {
            unregister(mine[i]);
            db_close(mine[i]);
        }
}

void db_set_request_id(struct db *db, const char *request_id) {
    db->request_id = request_id;
}

static void settle_commit(struct db *db);

PGconn *db_conn(struct db *db) {
    settle_commit(db);
    return db->conn;
}

const char *db_sqlstate(const struct db *db) {
    return db->sqlstate;
}

static bool is_conflict(const char *sqlstate) {
    return strcmp(sqlstate, "40P01") == 0 || strcmp(sqlstate, "40001") == 0;
}

void db_thread_forget_failures(void) {
    if (thread_db)
        thread_db->lost_conflict = false;
    thread_timed_out = false;
}

bool db_thread_lost_conflict(void) {
    return thread_db && thread_db->lost_conflict;
}

bool db_thread_timed_out(void) {
    return thread_timed_out;
}

int db_statement_timeout(void) {
    return statement_timeout_ms;
}

const char *db_constraint(const struct db *db) {
    return db->constraint;
}

enum nx_err db_map_sqlstate(const char *s) {
    if (!s || strlen(s) != 5)
        return NX_ERR_UNAVAILABLE; /* no SQLSTATE: the connection failed */
    if (strncmp(s, "08", 2) == 0 || strncmp(s, "53", 2) == 0 || strcmp(s, "57P01") == 0 ||
        strcmp(s, "57P02") == 0 || strcmp(s, "57P03") == 0 || strcmp(s, "57014") == 0 ||
        strcmp(s, "55P03") == 0 || strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0)
        return NX_ERR_UNAVAILABLE;
    if (strcmp(s, "23505") == 0 || strcmp(s, "23503") == 0)
        return NX_ERR_CONFLICT;
    if (strcmp(s, "23514") == 0 || strcmp(s, "22003") == 0 || strcmp(s, "22P02") == 0 ||
        strcmp(s, "23502") == 0)
        return NX_ERR_VALIDATION;
    return NX_ERR_INTERNAL;
}

static void copy_field(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Classify a failed result, remember its SQLSTATE and log it once. */
static enum nx_err fail_result(struct db *db, PGresult *r) {
    copy_field(db->sqlstate, sizeof db->sqlstate, PQresultErrorField(r, PG_DIAG_SQLSTATE));
    copy_field(db->constraint, sizeof db->constraint,
               PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME));
    /* Sticky: the handler's clean-up statements must not hide it. */
    db->lost_conflict = db->lost_conflict || is_conflict(db->sqlstate);
    bool broken = PQstatus(db->conn) != CONNECTION_OK;
    thread_timed_out = thread_timed_out || (!broken && strcmp(db->sqlstate, "57014") == 0);
    enum nx_err code = broken ? NX_ERR_UNAVAILABLE : db_map_sqlstate(db->sqlstate);
    enum log_level level = code == NX_ERR_INTERNAL || broken ? LOG_ERROR : LOG_DEBUG;
    log_db(level, db, "db.error", "sqlstate=%s constraint=%s: %s", db->sqlstate, db->constraint,
           PQerrorMessage(db->conn));
    if (broken)
        drop_connection(db);
    return code;
}

static bool ok_status(PGresult *r) {
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static int stmt_slot(struct db_stmt *st) {
    int slot = __atomic_load_n(&st->slot, __ATOMIC_ACQUIRE);
    if (slot)
        return slot;
    int fresh = atomic_fetch_add(&next_slot, 1);
    NX_ASSERT(fresh < NX_MAX_STATEMENTS);
    int expected = 0;
    if (__atomic_compare_exchange_n(&st->slot, &expected, fresh, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return fresh;
    return expected; /* another thread won; its slot stands */
}

/* ---- plan modes ----------------------------------------------------------
 *
 * A list whose only parameters are its cursor and its limit is best served
 * by one generic plan (the walk of its sort's index), but under
 * plan_cache_mode auto PostgreSQL keeps planning it afresh: without the
 * limit's value it prices the generic plan for a tenth of the table. So
 * such statements run with force_generic_plan, every other one with auto.
 * When the session is in the other mode, the SET goes in the same round
 * trip as the statement (libpq's pipeline mode). Inside a transaction the
 * SET is part of it: a rollback (to a savepoint too) may undo it, so after
 * one the mode is unknown, as after a failed pipeline, and the next
 * statement sets it again.
 */

static const char *const PLAN_MODE_SQL[] = {
    [PLAN_AUTO] = "SET plan_cache_mode = auto",
    [PLAN_GENERIC] = "SET plan_cache_mode = force_generic_plan",
};

/* Sends one statement (asynchronously); what it sends is in ctx. */
typedef int (*db_sender)(struct db *db, const void *ctx);

/* Wait until the next result of what was sent can be read without
 * blocking, for as long as db's bound allows: PostgreSQL answers within
 * its statement_timeout, so a server or network that says nothing past
 * the bound is hung (its processes stopped, a partition), and the
 * connection is given up (db->hung) rather than holding its thread for
 * good. Only thread connections are bounded; the seed's, the worker's and
 * the migrations' statements may run as long as they need. */
static bool await_answer(struct db *db) {
    if (db->hung)
        return false;
    int bound_ms = answer_bound_ms(db);
    if (bound_ms <= 0)
        return true;
    uint64_t deadline = now_us() + (uint64_t)bound_ms * 1000u;
    while (PQisBusy(db->conn)) {
        uint64_t now = now_us();
        if (now >= deadline) {
            db->hung = true;
            return false;
        }
        struct pollfd p = {PQsocket(db->conn), POLLIN, 0};
        int n = poll(&p, 1, (int)((deadline - now + 999) / 1000));
        if (n < 0 && errno != EINTR)
            return true; /* PQgetResult reports what is wrong */
        if (n > 0 && !PQconsumeInput(db->conn))
            return true; /* likewise: a broken connection */
    }
    return true;
}

static PGresult *next_result(struct db *db) {
    return await_answer(db) ? PQgetResult(db->conn) : NULL;
}

/* Every result of what was sent; the last one is returned (as PQexec). */
static PGresult *last_result(struct db *db) {
    PGresult *last = NULL, *r;
    while ((r = next_result(db)) != NULL) {
        PQclear(last);
        last = r;
    }
    return last;
}

/* PQexec, bounded as await_answer says. */
static PGresult *exec_text(struct db *db, const char *sql) {
    return PQsendQuery(db->conn, sql) ? last_result(db) : NULL;
}

/* PQprepare, likewise. */
static PGresult *prepare_named(struct db *db, const char *name, const char *sql, int nparams) {
    return PQsendPrepare(db->conn, name, sql, nparams, NULL) ? last_result(db) : NULL;
}

/* A connection whose answer did not come is closed: PostgreSQL, when it
 * runs again, rolls back its open transaction. True when it was. */
static bool drop_if_hung(struct db *db) {
    if (!db->hung)
        return false;
    log_db(LOG_ERROR, db, "db.hung",
           "no answer from PostgreSQL within %d ms; the connection is closed", answer_bound_ms(db));
    db->hung = false;
    drop_connection(db);
    back_off(db, now_us());
    return true;
}

/* The answer to a snapshot's COMMIT, sent without waiting for it
 * (db_end_snapshot), read before the connection's next use: by then it
 * has come. A failed one leaves the session in doubt, so it is closed. */
static void settle_commit(struct db *db) {
    if (!db->commit_unread)
        return;
    db->commit_unread = false;
    PGresult *r = last_result(db);
    bool committed = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!drop_if_hung(db) && !committed)
        drop_connection(db);
}

static PGresult *send_failed(struct db *db) {
    return PQmakeEmptyPGresult(db->conn, PGRES_FATAL_ERROR);
}

/* The commands before (a BEGIN, a SET), the statement and a sync in one
 * round trip: the statement's result, or the first failed command's. Bit
 * i of *done is set when before[i] succeeded. */
static PGresult *run_after(struct db *db, const char *const *before, int n, unsigned *done,
                           db_sender send, const void *ctx) {
    PGconn *c = db->conn;
    *done = 0;
    if (!PQenterPipelineMode(c))
        return send_failed(db);
    bool sent = true;
    for (int i = 0; i < n && sent; i++)
        sent = PQsendQueryParams(c, before[i], 0, NULL, NULL, NULL, NULL, 0);
    sent = sent && send(db, ctx) && PQpipelineSync(c);
    PGresult *failed = NULL;
    for (int i = 0; i < n && sent; i++) {
        PGresult *cmd = last_result(db);
        if (PQresultStatus(cmd) == PGRES_COMMAND_OK)
            *done |= 1u << i;
        if (PQresultStatus(cmd) == PGRES_COMMAND_OK || failed)
            PQclear(cmd);
        else
            failed = cmd;
    }
    PGresult *r = sent ? last_result(db) : NULL, *sync = sent ? next_result(db) : NULL;
    bool synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!PQexitPipelineMode(c) || !synced) {
        PQclear(failed);
        PQclear(r);
        *done = 0;
        return send_failed(db);
    }
    if (failed) {
        PQclear(r);
        return failed;
    }
    return r;
}

/* Run what send sends under the plan mode want (see above), after the
 * BEGIN of a snapshot when one is pending: in one round trip. */
static PGresult *run_in_mode(struct db *db, enum plan_mode want, db_sender send, const void *ctx) {
    const char *before[2];
    int n = 0, set = -1;
    if (db->begin_pending)
        before[n++] = db->begin_pending;
    if (db->plan_mode != want)
        before[set = n++] = PLAN_MODE_SQL[want];
    if (n == 0)
        return send(db, ctx) ? last_result(db) : send_failed(db);
    enum plan_mode was = db->plan_mode;
    unsigned done;
    db->plan_mode = PLAN_UNKNOWN;
    PGresult *r = run_after(db, before, n, &done, send, ctx);
    if (db->begin_pending && (done & 1u)) {
        db->begin_pending = NULL;
        db->depth = 1;
    }
    bool ran = PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK;
    if (set < 0)
        db->plan_mode = was;
    else if ((done & (1u << set)) && ran)
        db->plan_mode = want;
    return r;
}

/* ---- statements ---------------------------------------------------------- */

struct prepared_call {
    const char *name;
    int nparams;
    const char *const *params;
};

static int send_prepared(struct db *db, const void *ctx) {
    const struct prepared_call *c = ctx;
    return PQsendQueryPrepared(db->conn, c->name, c->nparams, c->params, NULL, NULL, 0);
}

static int send_built(struct db *db, const void *ctx) {
    const struct sql_builder *b = ctx;
    return PQsendQueryParams(db->conn, b->sql.data, b->count, NULL, b->params, NULL, NULL, 0);
}

static PGresult *run_prepared(struct db *db, struct db_stmt *st, const char *const *params) {
    int slot = stmt_slot(st);
    char name[16];
    snprintf(name, sizeof name, "s%d", slot);
    unsigned char bit = (unsigned char)(1u << (slot % 8));
    if (!(db->prepared[slot / 8] & bit)) {
        PGresult *p = prepare_named(db, name, st->sql, st->nparams);
        if (!ok_status(p))
            return p;
        PQclear(p);
        db->prepared[slot / 8] |= bit;
    }
    struct prepared_call c = {name, st->nparams, params};
    return run_in_mode(db, PLAN_AUTO, send_prepared, &c);
}

/* Runs one statement on db's connection; what it runs is in ctx. */
typedef PGresult *(*db_runner)(struct db *db, const void *ctx);

/*
 * Run a statement. When it fails because an idle connection had been cut
 * (PostgreSQL restarted while we were idle) and no transaction is open,
 * nothing was executed: reconnect and run it once more, unless the
 * connection must keep its session (routed reads: the read fails, and
 * runs again on the primary).
 */
static enum nx_err run(struct db *db, db_runner fn, const void *ctx, PGresult **out) {
    if (out)
        *out = NULL;
    db->sqlstate[0] = db->constraint[0] = '\0';
    settle_commit(db);
    if (!ensure_connected(db))
        return NX_ERR_UNAVAILABLE;
    bool fresh_start = db->depth == 0;
    metrics_count_id(METRIC_DB_STATEMENTS); /* what a request costs: see /metrics */
    PGresult *r = fn(db, ctx);
    if (drop_if_hung(db)) {
        PQclear(r);
        return NX_ERR_UNAVAILABLE;
    }
    if (!ok_status(r) && fresh_start && !db->keep_session && PQstatus(db->conn) != CONNECTION_OK) {
        PQclear(r);
        drop_connection(db);
        db->next_attempt_us = 0;
        if (!ensure_connected(db))
            return NX_ERR_UNAVAILABLE;
        metrics_count_id(METRIC_DB_STATEMENTS);
        r = fn(db, ctx);
        if (drop_if_hung(db)) {
            PQclear(r);
            return NX_ERR_UNAVAILABLE;
        }
    }
    if (!ok_status(r)) {
        enum nx_err code = fail_result(db, r);
        PQclear(r);
        return code;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return NX_OK;
}

struct stmt_call {
    struct db_stmt *st;
    const char *const *params;
};

static PGresult *run_prepared_call(struct db *db, const void *ctx) {
    const struct stmt_call *c = ctx;
    return run_prepared(db, c->st, c->params);
}

static PGresult *run_plain(struct db *db, const void *ctx) {
    if (db->begin_pending) { /* a text runs alone: its snapshot's BEGIN first */
        PGresult *begun = exec_text(db, db->begin_pending);
        if (PQresultStatus(begun) != PGRES_COMMAND_OK)
            return begun;
        PQclear(begun);
        db->begin_pending = NULL;
        db->depth = 1;
    }
    return exec_text(db, ctx);
}

static PGresult *run_built(struct db *db, const void *ctx) {
    return run_in_mode(db, PLAN_AUTO, send_built, ctx);
}

enum nx_err db_exec(struct db *db, struct db_stmt *st, const char *const *params, PGresult **out) {
    struct stmt_call c = {st, params};
    return run(db, run_prepared_call, &c, out);
}

enum nx_err db_exec_bool(struct db *db, struct db_stmt *st, const char *const *params, bool *yes) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, st, params, &r);
    *yes = e == NX_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return e;
}

enum nx_err db_exec_page(struct db *db, struct db_stmt *first, struct db_stmt *after,
                         const char *after_value, const char *after_id, const char *limit,
                         PGresult **out) {
    if (!after_value) {
        const char *params[] = {limit};
        return db_exec(db, first, params, out);
    }
    const char *params[] = {after_value, after_id, limit};
    return db_exec(db, after, params, out);
}

enum nx_err db_exec_sql(struct db *db, const char *sql) {
    return run(db, run_plain, sql, NULL);
}

struct copy_call {
    const char *sql;
    const char *data;
    size_t len;
};

/* Start the COPY, send the data, end it: the final result is the
 * statement's. A failure to send leaves the connection to fail_result. */
static PGresult *run_copy(struct db *db, const void *ctx) {
    const struct copy_call *c = ctx;
    PGresult *r = PQexec(db->conn, c->sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return r;
    PQclear(r);
    bool sent = true;
    /* PQputCopyData takes an int length: send in pieces. */
    for (size_t at = 0; sent && at < c->len; at += 1u << 20) {
        size_t n = c->len - at < (1u << 20) ? c->len - at : 1u << 20;
        sent = PQputCopyData(db->conn, c->data + at, (int)n) == 1;
    }
    PQputCopyEnd(db->conn, sent ? NULL : "sending failed");
    r = PQgetResult(db->conn);
    for (PGresult *more = PQgetResult(db->conn); more; more = PQgetResult(db->conn))
        PQclear(more);
    return r;
}

enum nx_err db_copy_in(struct db *db, const char *sql, const char *data, size_t len) {
    struct copy_call c = {sql, data, len};
    return run(db, run_copy, &c, NULL);
}

/* A key of its own range: 7350083 * 2^32 + a bucket is outside the int4
 * range the other single-key locks (hashtext, small constants) use. */
#define NAME_LOCK_KEY(name) "(7350083::bigint * 4294967296 + (hashtext(" name ") & 1023))"
static struct db_stmt SQL_XACT_LOCK = {"SELECT pg_advisory_xact_lock(" NAME_LOCK_KEY("$1") ")", 1,
                                       0};

enum nx_err db_xact_lock(struct db *db, const char *name) {
    const char *params[] = {name};
    return db_exec(db, &SQL_XACT_LOCK, params, NULL);
}

static struct db_stmt SQL_XACT_LOCKS = {
    "SELECT count(pg_advisory_xact_lock(k))"
    " FROM (SELECT DISTINCT " NAME_LOCK_KEY("n") " AS k FROM unnest($1::text[]) n ORDER BY 1) o",
    1, 0};

enum nx_err db_xact_locks(struct db *db, const char *names) {
    const char *params[] = {names};
    return db_exec(db, &SQL_XACT_LOCKS, params, NULL);
}

void db_text_array_add(struct buf *b, const char *s) {
    if (b->len == 0) {
        buf_puts(b, "{\"");
    } else {
        b->data[--b->len] = '\0'; /* the closing brace */
        buf_puts(b, ",\"");
    }
    for (; *s; s++) { /* quotes and backslashes escaped */
        if (*s == '"' || *s == '\\')
            buf_append(b, "\\", 1);
        buf_append(b, s, 1);
    }
    buf_puts(b, "\"}");
}

/* Inside an open transaction (the pipeline's, see db_begin_outer) a
 * caller's transaction is a savepoint: its commit releases the savepoint
 * and its rollback undoes only its own work, so handlers keep one shape
 * whether or not the pipeline wrapped them. */
static const char SQL_SAVEPOINT[] = "SAVEPOINT nx_nested";
static const char SQL_RELEASE[] = "RELEASE SAVEPOINT nx_nested";
static const char SQL_ROLLBACK_TO[] =
    "ROLLBACK TO SAVEPOINT nx_nested; RELEASE SAVEPOINT nx_nested";

enum nx_err db_begin(struct db *db) {
    enum nx_err e = db_exec_sql(db, db->depth > 0 ? SQL_SAVEPOINT : "BEGIN");
    if (e == NX_OK)
        db->depth++;
    return e;
}

/* What a rollback may have undone: see "plan modes" above. */
static void forget_plan_mode(struct db *db) {
    db->plan_mode = PLAN_UNKNOWN;
}

enum nx_err db_commit(struct db *db) {
    if (db->depth <= db->pinned)
        return NX_OK; /* the outer transaction is committed by its owner */
    bool nested = db->depth > 1;
    if (!nested && PQtransactionStatus(db->conn) != PQTRANS_INTRANS)
        forget_plan_mode(db); /* the COMMIT of a failed transaction rolls back */
    enum nx_err e = db_exec_sql(db, nested ? SQL_RELEASE : "COMMIT");
    if (nested && e != NX_OK)
        return e; /* still inside the savepoint: the caller rolls it back */
    db->depth = nested ? db->depth - 1 : 0;
    return e;
}

void db_rollback(struct db *db) {
    if (db->depth <= db->pinned)
        return;
    bool nested = db->depth > 1;
    forget_plan_mode(db);
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK) {
        PQclear(exec_text(db, nested ? SQL_ROLLBACK_TO : "ROLLBACK"));
        if (drop_if_hung(db))
            return; /* depth 0 now: nothing is open */
    }
    db->depth = nested ? db->depth - 1 : 0;
}

enum nx_err db_begin_outer(struct db *db) {
    NX_ASSERT(db->depth == 0);
    enum nx_err e = db_begin(db);
    if (e == NX_OK)
        db->pinned = 1;
    return e;
}

enum nx_err db_commit_outer(struct db *db) {
    db->pinned = 0;
    if (db->depth == 0)
        return NX_ERR_UNAVAILABLE; /* the connection broke: nothing was kept */
    /* A COMMIT of a failed transaction "succeeds" as a rollback, and a
     * savepoint left open is a caller's bug: refuse both, so that nothing
     * is reported as done that was not. */
    if (db->depth != 1 || PQtransactionStatus(db->conn) != PQTRANS_INTRANS) {
        log_error("db.commit", db->request_id, "the outer transaction cannot commit");
        db_abort_outer(db);
        return NX_ERR_INTERNAL;
    }
    return db_commit(db);
}

void db_abort_outer(struct db *db) {
    db->pinned = 0;
    forget_plan_mode(db);
    if (db->depth > 0 && db->conn && PQstatus(db->conn) == CONNECTION_OK) {
        PQclear(exec_text(db, "ROLLBACK"));
        drop_if_hung(db);
    }
    db->depth = 0;
}

/* The snapshot's statements only read, and see the database as it was
 * at the first of them. The BEGIN goes with that first statement, in its
 * round trip (run_in_mode). */
static const char SQL_BEGIN_SNAPSHOT[] = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

bool db_begin_snapshot(struct db *db) {
    if (db->depth > 0 || db->begin_pending)
        return false;
    db->begin_pending = SQL_BEGIN_SNAPSHOT;
    return true;
}

bool db_snapshot_failed(const struct db *db) {
    if (db->begin_pending)
        return false; /* nothing ran yet */
    return db->depth == 0 || !db->conn || PQtransactionStatus(db->conn) != PQTRANS_INTRANS;
}

void db_end_snapshot(struct db *db) {
    if (db->begin_pending) {
        db->begin_pending = NULL; /* no statement ran: nothing was begun */
        return;
    }
    if (db->depth != 1 || db->pinned)
        return; /* the connection broke and was dropped: nothing is open */
    /* Nothing to keep: the answer is read at the connection's next use
     * (settle_commit), so the request does not wait for it. */
    if (!db_snapshot_failed(db) && PQsendQuery(db->conn, "COMMIT")) {
        db->commit_unread = true;
        db->depth = 0;
    } else {
        db_rollback(db);
    }
}

void sql_add(struct sql_builder *b, const char *fragment) {
    buf_puts(&b->sql, fragment);
}

void sql_add_param(struct sql_builder *b, const char *fragment, const char *value) {
    NX_ASSERT(b->count < NX_SQL_MAX_PARAMS);
    b->params[b->count++] = value;
    for (const char *p = fragment; *p; p++) {
        if (*p == '?')
            buf_printf(&b->sql, "$%d", b->count);
        else
            buf_append(&b->sql, p, 1);
    }
}

void sql_add_page(struct sql_builder *b, const char *after, const char *order,
                  const char *after_value, const char *after_id, const char *limit) {
    if (after_value) {
        sql_add_param(b, after, after_value);
        sql_add_param(b, " ?::bigint)", after_id);
    }
    sql_add(b, order);
    sql_add_param(b, " LIMIT ?::integer", limit);
}

void sql_clear(struct sql_builder *b) {
    buf_clear(&b->sql);
    b->count = 0;
    b->prepare = false;
}

/* A built text's statement name on this connection, prepared on first
 * use; false when the connection holds NX_MAX_BUILT_STATEMENTS already
 * (the text then runs unprepared). Texts hold only constant fragments and
 * $n placeholders, so a connection sees a bounded number of them. */
static bool built_name(struct db *db, const char *sql, int nparams, char name[16],
                       PGresult **failed) {
    size_t i = 0;
    while (i < db->built_count && strcmp(db->built[i], sql) != 0)
        i++;
    snprintf(name, 16, "b%zu", i);
    if (i < db->built_count)
        return true;
    if (i == NX_MAX_BUILT_STATEMENTS)
        return false;
    PGresult *p = prepare_named(db, name, sql, nparams);
    if (!ok_status(p)) {
        *failed = p;
        return false;
    }
    PQclear(p);
    db->built[db->built_count++] = xstrdup(sql);
    return true;
}

static PGresult *run_built_prepared(struct db *db, const void *ctx) {
    const struct sql_builder *b = ctx;
    char name[16];
    PGresult *failed = NULL;
    if (built_name(db, b->sql.data, b->count, name, &failed)) {
        struct prepared_call c = {name, b->count, b->params};
        return run_in_mode(db, PLAN_GENERIC, send_prepared, &c);
    }
    return failed ? failed : run_built(db, ctx);
}

enum nx_err db_exec_built(struct db *db, const struct sql_builder *b, PGresult **out) {
    return run(db, b->prepare ? run_built_prepared : run_built, b, out);
}

enum nx_err db_purge(struct db *db, struct db_stmt *st, int retention_seconds, int batch,
                     int *purged) {
    char retention[16], limit[16];
    PGresult *r = NULL;
    snprintf(retention, sizeof retention, "%d", retention_seconds);
    snprintf(limit, sizeof limit, "%d", batch);
    const char *params[] = {retention, limit};
    enum nx_err e = db_exec(db, st, params, &r);
    *purged = r ? (int)strtol(PQcmdTuples(r), NULL, 10) : 0;
    PQclear(r);
    return e;
}
