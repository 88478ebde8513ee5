/*
 * migrate.h -- forward-only schema migrations.
 *
 * The migrations are compiled into the binary (core/embedded.h). Each runs
 * in its own transaction and is recorded in schema_migrations with the
 * SHA-256 of its text; an applied file whose text has changed is an error.
 * A PostgreSQL advisory lock serialises processes that migrate at once.
 */
#ifndef NEXUS_DB_MIGRATE_H
#define NEXUS_DB_MIGRATE_H

#include "nexus/core/err.h"
#include "nexus/db/db.h"

#include <stdbool.h>

/* Check the recorded migrations against the embedded ones; with apply, run
 * the pending ones. *pending receives how many remain unapplied. db is a
 * connection of the caller's own: its statement, lock and idle timeouts
 * are lifted for the rest of its session (a migration runs as long as the
 * catalog needs). */
enum nx_err migrate_run(struct db *db, bool apply, int *pending);

#endif
