/*
 * owed_bumps.c -- SQL for the catalog cache bumps owed to Redis.
 */
#include "nexus/db/owed_bumps.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define CHANNEL "nexus_cache_owed"

/* The row, and a notification to every server listening (delivered when
 * the insert commits). */
static struct db_stmt SQL_RECORD = {
    "WITH r AS (INSERT INTO cache_owed_bumps DEFAULT VALUES RETURNING id)"
    " SELECT r.id, pg_notify('" CHANNEL "', '') FROM r",
    0, 0};
static struct db_stmt SQL_LATEST = {"SELECT coalesce(max(id), 0) FROM cache_owed_bumps", 0, 0};
static struct db_stmt SQL_PAID = {"DELETE FROM cache_owed_bumps WHERE id <= $1::bigint", 1, 0};
static struct db_stmt SQL_FORGET = {"DELETE FROM cache_owed_bumps WHERE id = $1::bigint", 1, 0};

enum nx_err owed_bumps_record(struct db *db, int64_t *id) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_RECORD, NULL, &r);
    if (id)
        *id = e == NX_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return e;
}

enum nx_err owed_bumps_latest(struct db *db, int64_t *latest) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_LATEST, NULL, &r);
    *latest = e == NX_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return e;
}

enum nx_err owed_bumps_listen(struct db *db) {
    return db_exec_sql(db, "LISTEN " CHANNEL);
}

enum nx_err owed_bumps_poll(struct db *db, bool *notified) {
    PGconn *c = db_conn(db);
    *notified = false;
    if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
        return NX_ERR_UNAVAILABLE;
    PGnotify *note;
    while ((note = PQnotifies(c))) {
        *notified = true;
        PQfreemem(note);
    }
    return NX_OK;
}

static enum nx_err delete_by_id(struct db *db, struct db_stmt *st, int64_t id) {
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, id);
    const char *params[] = {text};
    return db_exec(db, st, params, NULL);
}

enum nx_err owed_bumps_paid(struct db *db, int64_t upto) {
    return delete_by_id(db, &SQL_PAID, upto);
}

enum nx_err owed_bumps_forget(struct db *db, int64_t id) {
    return delete_by_id(db, &SQL_FORGET, id);
}
