/*
 * owed_bumps.h -- catalog cache bumps a process could not deliver to Redis,
 * kept in PostgreSQL (migration 0031) so that any process can deliver
 * them: see docs/ARCHITECTURE.md, "The catalog cache".
 */
#ifndef NEXUS_DB_OWED_BUMPS_H
#define NEXUS_DB_OWED_BUMPS_H

#include "nexus/db/db.h"

#include <stdbool.h>
#include <stdint.h>

/* Record that a committed write's bump is owed, and notify the servers
 * listening (owed_bumps_listen); *id (when id is not NULL) the record's
 * id. Inside the write's own transaction, it is owed from the moment the
 * write commits. */
enum nx_err owed_bumps_record(struct db *db, int64_t *id);

/* The latest owed bump's id into *latest, 0 when none is owed. */
enum nx_err owed_bumps_latest(struct db *db, int64_t *latest);

/* Listen on db for the notifications of owed_bumps_record. */
enum nx_err owed_bumps_listen(struct db *db);

/* Read what arrived on a listening db without waiting: *notified when an
 * owed bump was recorded since the last call. NX_ERR_UNAVAILABLE when the
 * connection is lost (notifications may have been missed). */
enum nx_err owed_bumps_poll(struct db *db, bool *notified);

/* Forget the owed bumps up to id upto, once a bump after them landed. */
enum nx_err owed_bumps_paid(struct db *db, int64_t upto);

/* Forget the owed bump id alone: its writer's own bump landed after it. */
enum nx_err owed_bumps_forget(struct db *db, int64_t id);

#endif
