/*
 * owed_bumps.h -- catalog cache bumps a process could not deliver to Redis,
 * kept in PostgreSQL (migration 0031) so that any process can deliver
 * them: see docs/ARCHITECTURE.md, "The catalog cache".
 */
#ifndef NEXUS_DB_OWED_BUMPS_H
#define NEXUS_DB_OWED_BUMPS_H

#include "nexus/db/db.h"

#include <stdint.h>

/* Record that a committed write's bump is owed. */
enum nx_err owed_bumps_record(struct db *db);

/* The latest owed bump's id into *latest, 0 when none is owed. */
enum nx_err owed_bumps_latest(struct db *db, int64_t *latest);

/* Forget the owed bumps up to id upto, once a bump after them landed. */
enum nx_err owed_bumps_paid(struct db *db, int64_t upto);

#endif
