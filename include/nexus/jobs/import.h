/*
 * import.h -- the job that applies a product import (kind "import",
 * payload {"import_id": N}).
 *
 * It reads the stored upload chunk by chunk through core/records (memory
 * bounded by two batches, never by the upload), validates each row with
 * model/import_row and applies valid rows in batches of IMPORT_BATCH_ROWS
 * (read on a connection of its own while threads of the job apply the
 * batches before: one on the job's connection, and in a bulk load a
 * second on a connection of its own, two batches at once; each batch
 * commits after the one before it, in file order):
 * COPY of the rows and their variants into staging tables, the
 * database's own checks (duplicates in a row, category, the product a
 * row's SKUs name, taken sku in create mode, taken slug), then a merge of
 * a few set-based statements (db/imports.h). Each batch commits with its
 * row errors and the import's progress (the first line not yet applied),
 * and the catalog cache is bumped once per committed batch; run again
 * after a crash, the job reads on from the byte offset of the first record
 * not yet applied (a CSV's header read again first), so a restart costs at
 * most the batch that was lost. Slugs of rows that give none are chosen
 * for a whole batch at once (jobs/import_slugs.h). The progress is
 * saved only from the resume line the batch started at and while the
 * job's worker holds its lease, so a runner that lost the lease (it ran
 * out; another worker claimed the job) rolls its batch back and stops:
 * no batch applies twice. With atomic,
 * the whole import is one transaction, rolled back (and only the errors
 * kept) if any row failed.
 *
 * A bulk load: an import of IMPORT_BULK_MIN_BYTES or more into a catalog
 * without a live product (and not atomic) first drops the indexes that
 * serve only readers (db/seed_indexes.h; the unique ones and those of a
 * product's variants stay, so every row is checked as usual), and builds
 * them, two at a time, after its last batch and before it is marked done.
 * Readers meanwhile get correct answers without those indexes (slowly);
 * writers of products and variants wait while an index of their table is
 * built (as after a seed).
 * Whatever stops the run, the list of indexes to build is committed, and
 * the run that finishes the import builds what it still holds (another
 * import does too, and `nexus seed`).
 * Its batches also leave the facet counts and the term order tables to
 * one rebuild (migration 0020: each batch transaction starts with
 * imports_bulk_load_begin, which marks the rebuild pending with it, and
 * writes its products' attribute terms and numeric attributes itself);
 * the rebuild runs after the last batch, before the index builds, in the
 * run that finishes the import or in any later import's run while the
 * mark is there.
 */
#ifndef NEXUS_JOBS_IMPORT_H
#define NEXUS_JOBS_IMPORT_H

#include "nexus/core/config.h"
#include "nexus/db/db.h"
#include "nexus/jobs/queue.h"

#include <stdbool.h>
#include <stddef.h>

/* Rows per batch: a restart redoes at most one, and each statement of a
 * batch must end within the import's own statement timeout
 * (IMPORT_STATEMENT_TIMEOUT_MS, set in each of its transactions) on a
 * loaded machine. The facet counts are appended and folded once per
 * statement, whatever its rows, so larger batches cost less per row. */
#define IMPORT_BATCH_ROWS 2000

/* The import's job was made dead by the reaper (its worker stopped during
 * each attempt, none committing a batch), whose statement ended the import
 * failed, saying so, with what it applied kept: what a bulk load left
 * undone is built. */
void import_job_dead(const struct config *cfg, struct db *db, const struct job *job);

/* Run the import job; false with err filled when it should be retried.
 * An attempt that commits a batch is refunded (queue_refund). */
bool import_job(const struct config *cfg, struct db *db, const struct job *job, char *err,
                size_t errcap);

#endif
