/*
 * replica.c -- routing cache misses to a streaming replica that is caught
 * up (see replica.h).
 */
#include "nexus/db/replica.h"

#include "nexus/core/log.h"
#include "nexus/db/db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool configured;
static uint64_t max_wait_us;

/* Reads by target, fallbacks by reason. */
static _Atomic uint64_t reads_primary, reads_replica;
static _Atomic uint64_t fallbacks[REPLICA__FALLBACKS];

static const char *const FALLBACK_NAMES[REPLICA__FALLBACKS] = {
    [REPLICA_NO_POSITION] = "no_position", [REPLICA_LAGGING] = "lagging",
    [REPLICA_UNAVAILABLE] = "unavailable", [REPLICA_NOT_STANDBY] = "not_standby",
    [REPLICA_FAILED] = "failed",
};

/* The replay position this thread's replica connection reported last, and
 * on which connection (db_connection_serial): only ever compared with the
 * connection it came from, on which it can only grow. */
static _Thread_local uint64_t known_replay;
static _Thread_local uint64_t known_serial;

/* When a read last gave up waiting for the replica: for a while after,
 * reads ask once and do not wait (a replica far behind, such as one
 * delayed on purpose, would otherwise cost every read the whole wait). */
static _Atomic uint64_t gave_up_us;
#define GIVE_UP_MEMORY_US 100000u

/* Between two questions to a replica that is behind. */
#define POLL_PAUSE_US 2000u

/* The least wait for the replica's answer to one question: on a busy
 * machine a healthy replica may take some milliseconds, and a connection
 * given up is made again only after a backoff. */
#define ASK_LEAST_WAIT_MS 100

void replica_init(bool is_configured, int max_wait_ms) {
    configured = is_configured;
    max_wait_us = (uint64_t)max_wait_ms * 1000u;
}

bool replica_configured(void) {
    return configured;
}

bool replica_parse_position(const char *text, uint64_t *out) {
    size_t n = strlen(text);
    if (n == 0 || n > 16 || strspn(text, "0123456789ABCDEFabcdef") != n)
        return false;
    *out = strtoull(text, NULL, 16);
    return true;
}

static void fall_back(enum replica_fallback why) {
    atomic_fetch_add_explicit(&fallbacks[why], 1, memory_order_relaxed);
}

void replica_count_primary(void) {
    atomic_fetch_add_explicit(&reads_primary, 1, memory_order_relaxed);
}

/* Whether the server is in recovery, and how far it has replayed. */
static struct db_stmt SQL_REPLAY = {
    "SELECT pg_is_in_recovery(), coalesce((pg_last_wal_replay_lsn() - '0/0')::bigint, 0)", 0, 0};

enum ask { ASK_OK, ASK_FAILED, ASK_NOT_STANDBY };

static enum ask ask_replay(struct db *db, uint64_t *replayed) {
    PGresult *r = NULL;
    if (db_exec(db, &SQL_REPLAY, NULL, &r) != NX_OK || PQntuples(r) != 1) {
        PQclear(r);
        return ASK_FAILED;
    }
    bool standby = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    *replayed = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    return standby ? ASK_OK : ASK_NOT_STANDBY;
}

/* ask_replay, waiting for the answer only as long as the read may still
 * wait (at least ASK_LEAST_WAIT_MS): a replica that says nothing (its
 * processes stopped, a partition) costs a read that, not a statement's
 * whole answer timeout; past it the connection is given up as hung. */
static enum ask ask_replay_within(struct db *db, uint64_t waited_us, uint64_t *replayed) {
    uint64_t left_ms = waited_us < max_wait_us ? (max_wait_us - waited_us) / 1000u : 0;
    int bound = left_ms > ASK_LEAST_WAIT_MS ? (int)left_ms : ASK_LEAST_WAIT_MS;
    int outer = db_thread_bound_answers(bound);
    if (outer > 0 && outer < bound)
        db_thread_bound_answers(outer); /* a shorter bound stands */
    enum ask a = ask_replay(db, replayed);
    db_thread_bound_answers(outer);
    return a;
}

static void pause_us(uint64_t us) {
    struct timespec ts = {0, (long)us * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Ask db until it has replayed need or the wait is over. */
static enum replica_fallback wait_for(struct db *db, uint64_t need, bool *caught_up) {
    uint64_t start = now_us();
    bool may_wait = start - atomic_load(&gave_up_us) >= GIVE_UP_MEMORY_US;
    for (;;) {
        enum ask a = ask_replay_within(db, now_us() - start, &known_replay);
        if (a == ASK_NOT_STANDBY) {
            log_warn("replica.not_standby", NULL, "the read replica is not in recovery: unused");
            db_disconnect(db); /* asked again after a backoff */
            return REPLICA_NOT_STANDBY;
        }
        if (a == ASK_FAILED) {
            db_disconnect(db);
            return REPLICA_UNAVAILABLE;
        }
        if ((*caught_up = known_replay >= need))
            return REPLICA_LAGGING;
        uint64_t now = now_us();
        if (!may_wait || now - start + POLL_PAUSE_US > max_wait_us) {
            if (may_wait)
                atomic_store(&gave_up_us, now);
            return REPLICA_LAGGING;
        }
        pause_us(POLL_PAUSE_US);
    }
}

bool replica_route(const char *position, const char *request_id) {
    uint64_t need = 0;
    if (!configured) {
        replica_count_primary();
        return false;
    }
    if (!position || !replica_parse_position(position, &need)) {
        fall_back(REPLICA_NO_POSITION);
        replica_count_primary();
        return false;
    }
    struct db *db = db_thread_replica(request_id);
    bool caught_up = false;
    enum replica_fallback why = REPLICA_UNAVAILABLE;
    if (db) {
        if (db_connection_serial(db) != known_serial) { /* a new server, maybe */
            known_serial = db_connection_serial(db);
            known_replay = 0;
        }
        caught_up = known_replay >= need;
        if (!caught_up)
            why = wait_for(db, need, &caught_up);
    }
    if (!caught_up) {
        fall_back(why);
        replica_count_primary();
        return false;
    }
    atomic_fetch_add_explicit(&reads_replica, 1, memory_order_relaxed);
    db_thread_route_reads(true);
    return true;
}

void replica_route_end(bool failed) {
    db_thread_route_reads(false);
    if (failed) {
        fall_back(REPLICA_FAILED);
        atomic_fetch_sub_explicit(&reads_replica, 1, memory_order_relaxed);
        replica_count_primary();
    }
}

enum replica_state replica_check(const char *request_id, bool primary_answers) {
    if (!configured)
        return REPLICA_DISABLED;
    char position[24];
    uint64_t primary = 0, replayed = 0;
    /* The primary first: a replica caught up with it now is caught up.
     * Without the primary its lag is not known, and a standby that
     * answers is ok: it serves the reads of the cache's write position. */
    bool known = primary_answers && db_wal_position(position, sizeof position) &&
                 replica_parse_position(position, &primary);
    struct db *db = db_thread_replica(request_id);
    enum ask a = db ? ask_replay(db, &replayed) : ASK_FAILED;
    if (a != ASK_OK) {
        if (db)
            db_disconnect(db);
        return REPLICA_IS_UNAVAILABLE;
    }
    return known && replayed < primary ? REPLICA_IS_LAGGING : REPLICA_OK;
}

const char *replica_state_name(enum replica_state s) {
    switch (s) {
    case REPLICA_OK:
        return "ok";
    case REPLICA_IS_LAGGING:
        return "lagging";
    case REPLICA_IS_UNAVAILABLE:
        return "unavailable";
    default:
        return "disabled";
    }
}

void replica_render_metrics(struct buf *out) {
    buf_printf(out,
               "# HELP nexus_db_reads_total Catalog reads that missed the cache, by the server "
               "that answered them.\n"
               "# TYPE nexus_db_reads_total counter\n"
               "nexus_db_reads_total{target=\"primary\"} %" PRIu64 "\n"
               "nexus_db_reads_total{target=\"replica\"} %" PRIu64 "\n",
               atomic_load(&reads_primary), atomic_load(&reads_replica));
    buf_puts(out, "# HELP nexus_replica_fallbacks_total Reads sent to the primary although a "
                  "replica is configured, by reason.\n"
                  "# TYPE nexus_replica_fallbacks_total counter\n");
    for (int i = 0; i < REPLICA__FALLBACKS; i++)
        buf_printf(out, "nexus_replica_fallbacks_total{reason=\"%s\"} %" PRIu64 "\n",
                   FALLBACK_NAMES[i], atomic_load(&fallbacks[i]));
}
