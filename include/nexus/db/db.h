/*
 * db.h -- PostgreSQL connections and statement execution.
 *
 * Each server thread owns one connection (db_thread), so the hot path takes
 * no lock. Statements are prepared lazily, once per connection. A broken
 * connection is dropped and re-established with jittered backoff; the
 * request that saw the break gets NX_ERR_UNAVAILABLE (503), never a crash,
 * and nexus never needs a restart after PostgreSQL comes back.
 *
 * SQLSTATE to nx_err: class 08, 57P01-57P03, 53xxx, 57014 -> UNAVAILABLE;
 * 23505 -> CONFLICT; 23503 -> CONFLICT; 23514, 22003, 22P02 -> VALIDATION;
 * anything else -> INTERNAL (logged with the request id).
 */
#ifndef NEXUS_DB_DB_H
#define NEXUS_DB_DB_H

#include "nexus/core/err.h"
#include "nexus/core/xmem.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NX_MAX_STATEMENTS 256
/* Built texts (struct sql_builder) prepared per connection, at most. */
#define NX_MAX_BUILT_STATEMENTS 64

/* A timestamptz column as RFC 3339 UTC with microseconds ("...123456Z"). */
#define NX_SQL_TIMESTAMP(col)                                                                      \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* A statement: its SQL lives as a constant at the top of its db/ file. The
 * slot is assigned on first use and indexes the per-connection prepared
 * set. */
struct db_stmt {
    const char *sql;
    int nparams;
    int slot; /* 0 until first use */
};

struct db;

/* This thread's connection to DATABASE_URL, connecting if needed. NULL when
 * PostgreSQL cannot be reached now (the caller answers 503). The
 * connection counts as in use (nexus_db_connections_in_use) from then
 * until db_thread_release. */
struct db *db_thread(const char *request_id);

/* This thread's connection to DATABASE_READ_URL (a streaming replica),
 * connecting if needed and the backoff allows; NULL when none is
 * configured or it cannot be reached now. Used by db/replica.c. */
struct db *db_thread_replica(const char *request_id);

/* While true, db_thread hands out this thread's replica connection instead
 * of its primary one (reads that db/replica.c found safe to serve there).
 * Meanwhile that connection is never made anew: the check held for its
 * session only, so once it breaks, its statements fail (no retry on a
 * fresh connection) and db_thread answers NULL, and the read is run again
 * on the primary. */
void db_thread_route_reads(bool to_replica);
/* Whether this thread's reads go to the replica now. */
bool db_thread_reads_replica(void);

/* Close db's connection and wait out a backoff before the next attempt
 * (a server that must not be used now, such as a promoted replica). */
void db_disconnect(struct db *db);

/* Changes each time db connects anew (a new server process, maybe a
 * rebuilt one: what was learnt about the old one no longer holds). */
uint64_t db_connection_serial(const struct db *db);

/* The primary's current WAL insert position as 16 upper-case hex digits,
 * on this thread's primary connection; false when it does not answer.
 * After a write committed, it is at or past the write's commit record,
 * even one that synchronous_commit = off left in the WAL buffers. */
bool db_wal_position(char *out, size_t cap);

/* The request stage that took this thread's connection is done with it
 * (the server calls this after each pipeline step; a no-op otherwise). */
void db_thread_release(void);

/* A private connection for command-line verbs and tests; NULL on failure
 * with the reason logged. Close it with db_close. */
struct db *db_open(const char *conninfo);
void db_close(struct db *db);

/* Ask PostgreSQL to cancel whatever statement each thread connection is
 * running (at shutdown, once the grace period is over); the number of
 * cancel requests sent. Safe from any thread. */
size_t db_cancel_all(void);

/* Close every thread connection (at shutdown, after the threads stopped). */
void db_close_all(void);

/* Close the calling thread's connections, if it has any: a thread that
 * ends before the process (an import's applier) calls this last, or its
 * connections stay open until db_close_all. */
void db_thread_close(void);

/* Settings applied to every connection (from the configuration). */
void db_set_statement_timeout(int ms);
int db_statement_timeout(void);
/* How long a thread connection (db_thread, db_thread_replica) waits for
 * PostgreSQL's answer to a statement before it gives the connection up
 * as hung and the statement fails as NX_ERR_UNAVAILABLE (0, the default:
 * as long as it takes). serve sets it past the statement timeout. */
void db_set_answer_timeout(int ms);
/* Until called again with 0, this thread's connections wait at most ms
 * for an answer when that is shorter (a readiness check must answer soon
 * even when PostgreSQL hangs); past it the connection is given up as in
 * db_set_answer_timeout. Returns the bound it replaces (0: none). */
int db_thread_bound_answers(int ms);

/* Run a statement whose one row's first column is a boolean: *yes. */
enum nx_err db_exec_bool(struct db *db, struct db_stmt *st, const char *const *params, bool *yes);

/* Run a prepared statement with text parameters (NULL entries are SQL NULL).
 * On NX_OK, *out (if given) owns the result; on failure *out is NULL. */
enum nx_err db_exec(struct db *db, struct db_stmt *st, const char *const *params, PGresult **out);

/* One page of a keyset list: first ($1 limit) when after_value is NULL,
 * else after ($1 after_value, $2 after_id, $3 limit). */
enum nx_err db_exec_page(struct db *db, struct db_stmt *first, struct db_stmt *after,
                         const char *after_value, const char *after_id, const char *limit,
                         PGresult **out);

/* Run st, a batched DELETE taking ($1 retention seconds, $2 batch size);
 * *purged: the rows it deleted. */
enum nx_err db_purge(struct db *db, struct db_stmt *st, int retention_seconds, int batch,
                     int *purged);

/* Run constant SQL with no parameters (migrations, transaction control). */
enum nx_err db_exec_sql(struct db *db, const char *sql);

/* COPY ... FROM STDIN (constant sql) with len bytes of data in COPY's
 * text format. */
enum nx_err db_copy_in(struct db *db, const char *sql, const char *data, size_t len);

/* Take a transaction-scoped lock named name (serialises, say, two writers
 * deriving the same slug). Needs an open transaction. Names share 1,024
 * locks (by hash): two names may wait on each other, but a transaction
 * that names thousands (an atomic import's slugs) holds at most 1,024 of
 * PostgreSQL's lock table, which is shared by every session and sized for
 * max_locks_per_transaction per connection. */
enum nx_err db_xact_lock(struct db *db, const char *name);
/* The same for every name of a text[] literal, in the locks' order (so two
 * callers locking overlapping sets cannot deadlock). */
enum nx_err db_xact_locks(struct db *db, const char *names);

/* Append s to the text[] literal in b (empty: a new one), quoted, so that
 * b always holds a whole literal. */
void db_text_array_add(struct buf *b, const char *s);

enum nx_err db_begin(struct db *db);
enum nx_err db_commit(struct db *db);
/* Roll back if a transaction is open; safe to call after a failure. */
void db_rollback(struct db *db);

/*
 * A transaction owned by the caller around code that runs its own
 * (the request pipeline around a handler, so that what the handler writes
 * and the idempotency record commit together). Inside it, db_begin opens
 * a savepoint, db_commit releases it and db_rollback rolls back to it;
 * db_commit and db_rollback at the outer level itself do nothing.
 * db_commit_outer commits (NX_ERR_INTERNAL, after rolling back, when a
 * statement in it failed); db_abort_outer rolls it all back.
 */
enum nx_err db_begin_outer(struct db *db);
enum nx_err db_commit_outer(struct db *db);
void db_abort_outer(struct db *db);

/*
 * A read-only transaction whose statements all see one snapshot of the
 * database (REPEATABLE READ), for an answer built from several statements
 * that must agree with each other. db_begin_snapshot has it begin with the
 * next statement (the BEGIN sent in that statement's round trip) and is
 * true unless inside another transaction. After a statement in it failed
 * (or its BEGIN did), db_snapshot_failed is true and the others fail too
 * until db_end_snapshot, which commits or rolls back.
 */
bool db_begin_snapshot(struct db *db);
bool db_snapshot_failed(const struct db *db);
void db_end_snapshot(struct db *db);

/* After a failed db_exec: the SQLSTATE and constraint name ("" if none). */
const char *db_sqlstate(const struct db *db);

/* True when a statement on this thread's connection lost a deadlock or a
 * serialization conflict (SQLSTATE 40P01, 40001) since the last
 * db_thread_forget_failures: its transaction was rolled back whole, and
 * running it again may well succeed. The pipeline forgets before each run
 * of a handler, so what an earlier request left behind never counts. */
bool db_thread_lost_conflict(void);
/* True when a statement on this thread (either of its connections) was
 * stopped by statement_timeout (SQLSTATE 57014) since
 * db_thread_forget_failures: the request asked for more work than the
 * server allows one statement, which a retry does not change. */
bool db_thread_timed_out(void);
void db_thread_forget_failures(void);
const char *db_constraint(const struct db *db);

/* The request id used when logging errors on this connection. */
void db_set_request_id(struct db *db, const char *request_id);

/* libpq connection, for LISTEN/COPY users. */
PGconn *db_conn(struct db *db);

/*
 * SQL assembled from constant fragments, for the few queries whose shape
 * depends on which filters a request uses. A fragment is always a string
 * literal of this program; each '?' in it becomes the next $n, bound to
 * the given value. User input only ever travels as a parameter.
 */
#define NX_SQL_MAX_PARAMS 64

struct sql_builder {
    struct buf sql;
    const char *params[NX_SQL_MAX_PARAMS];
    int count;
    /* Run as a statement prepared once per connection (keyed by its text),
     * so PostgreSQL may reuse a generic plan: only for texts whose plan
     * does not depend on their parameters' values. */
    bool prepare;
};

void sql_add(struct sql_builder *b, const char *fragment);
void sql_add_param(struct sql_builder *b, const char *fragment, const char *value);
/* A keyset page's end: when after_value is not NULL, after (the
 * comparison up to the sort value's placeholder and a comma, such as
 * " AND (created_at, id) > (?::timestamptz,") with after_value, closed
 * with after_id; then order and LIMIT limit. */
void sql_add_page(struct sql_builder *b, const char *after, const char *order,
                  const char *after_value, const char *after_id, const char *limit);
/* Run it (prepared or not, as b->prepare says); frees nothing: call
 * sql_clear after. */
enum nx_err db_exec_built(struct db *db, const struct sql_builder *b, PGresult **out);
void sql_clear(struct sql_builder *b);

/* Map a SQLSTATE to an error code (exposed for tests). */
enum nx_err db_map_sqlstate(const char *sqlstate);

#endif
