/*
 * worker.h -- `nexus worker`: runs the jobs of the queue.
 *
 * One process, one job at a time, any number of processes: claiming is
 * SKIP LOCKED under a lease, so two workers never run a job at the same
 * time, and a job whose worker died is taken up again once its lease runs
 * out. The worker sleeps on LISTEN (woken at each enqueue's commit) with a
 * polling fallback, retries failures with exponential backoff and jitter,
 * and keeps a job that failed its last attempt as dead with its error. On
 * SIGTERM it finishes the job in hand and exits; a lost database
 * connection is re-established with backoff.
 */
#ifndef NEXUS_JOBS_WORKER_H
#define NEXUS_JOBS_WORKER_H

#include "nexus/core/config.h"
#include "nexus/db/db.h"
#include "nexus/jobs/queue.h"

#include <stdbool.h>
#include <stddef.h>

/* Run until SIGTERM or SIGINT; returns the process exit code. */
int worker_run(const struct config *cfg);

/* A job the reaper made dead (its worker stopped during its last
 * attempt): what its kind must not leave behind is settled (an import
 * ends failed). Other kinds need nothing. */
void job_dead(const struct config *cfg, struct db *db, const struct job *job);

/* Run one job's handler. True when it succeeded; else err says why. */
bool job_handle(const struct config *cfg, struct db *db, const struct job *job, char *err,
                size_t errcap);

#endif
