/*
 * imports.h -- the SQL of product imports: the imports row, the upload's
 * chunks, row errors, and the batch merge (COPY into a staging table, then
 * one set-based statement per step).
 *
 * Chunk data travels as bytea in hex text form ("\\x..."), so no binary
 * parameters are needed.
 */
#ifndef NEXUS_DB_IMPORTS_H
#define NEXUS_DB_IMPORTS_H

#include "nexus/core/xmem.h"
#include "nexus/db/db.h"
#include "nexus/model/import_row.h"

#include <stdbool.h>
#include <stdint.h>

/* The columns of an import row: enum import_col in model/import_row.h. */

/* A new import in status 'uploading'; *id its id (decimal). */
enum nx_err imports_create(struct db *db, const char *user_id, const char *format, const char *mode,
                           const char *atomic, char id[24]);

/* Store chunk seq of the upload (hex: "\\x..."). */
enum nx_err imports_put_chunk(struct db *db, const char *id, int seq, const char *hex);

/* The upload is complete: 'queued', with its size. *out: the import. */
enum nx_err imports_queue(struct db *db, const char *id, const char *bytes, PGresult **out);

/* An import that is not still uploading (zero rows: none). */
enum nx_err imports_get(struct db *db, const char *id, PGresult **out);

/* How many errors an import's JSON shows (the first ones), as SQL text. */
#define NX_IMPORT_ERRORS_SHOWN "100"

/* Imports past 'uploading', a page in sort order after (after_value,
 * after_id) when after_value is not NULL; limit rows at most; each with
 * its first NX_IMPORT_ERRORS_SHOWN errors (IMC_FIRST_ERRORS). */
enum import_sort { IMPORT_SORT_CREATED_DESC, IMPORT_SORT_CREATED };
enum nx_err imports_list(struct db *db, enum import_sort sort, const char *after_value,
                         const char *after_id, const char *limit, PGresult **out);
enum nx_err imports_count(struct db *db, long long *total);

/* Its first limit errors (line, field or NULL, message), in order. */
enum nx_err imports_errors(struct db *db, const char *id, const char *after_n, const char *limit,
                           PGresult **out);

/* The worker takes it: 'running' (started_at kept from an earlier try).
 * Zero rows when it is not queued or running. */
enum nx_err imports_start(struct db *db, const char *id, PGresult **out);

/* Whether the import is a bulk load: min_bytes or more, into a catalog
 * without a live product. */
enum nx_err imports_is_bulk(struct db *db, const char *id, long long min_bytes, bool *bulk);

/* A bulk load's derived data (migration 0020): the first statement of
 * each of its transactions that write products (the triggers that keep
 * the facet counts, numeric attributes and term order tables step aside
 * in it, and the rebuild is marked pending with it); whether a rebuild is
 * pending; the rebuild, inside the caller's transaction. */
enum nx_err imports_bulk_load_begin(struct db *db);
enum nx_err imports_derived_pending(struct db *db, bool *pending);
enum nx_err imports_derived_rebuild(struct db *db);

/* Whether an import that wrote `written` products grew or changed the
 * catalog by a tenth or more of what PostgreSQL's statistics last counted
 * (or the table was never analyzed): then the statistics are stale
 * enough to mislead the planner until autovacuum analyzes the tables. */
enum nx_err imports_changed_much(struct db *db, long long written, bool *much);

/* ANALYZE the catalog's tables (products, their variants and the tables
 * derived from them), outside a transaction, without a statement
 * timeout. */
enum nx_err imports_analyze_catalog(struct db *db);

/* Set the statement and lock timeouts of the current transaction (ms). */
enum nx_err imports_statement_timeout(struct db *db, int ms);

/* The order lock of the import's batch number seq, held to the end of the
 * current transaction: exclusive by the batch's own transaction, shared by
 * the next batch's, which so waits for it to end (a wait the database
 * sees: a deadlock between the two is broken by it, not left hanging). */
enum nx_err imports_batch_lock(struct db *db, const char *id, long long seq, bool shared);

/* Chunk seq's bytes (zero rows past the last). */
enum nx_err imports_chunk(struct db *db, const char *id, int seq, PGresult **out);

/* The sizes of its chunks, in order (one row each). */
enum nx_err imports_chunk_sizes(struct db *db, const char *id, PGresult **out);

/* Progress after a batch: counters, and the first record not yet applied
 * (its line, and its byte offset in the upload). */
struct import_progress {
    long long rows, created, updated, failed, resume_line, errors, resume_offset;
};
/* Who saves it: the job and worker that hold the lease, and the resume
 * line the progress being saved started from. */
struct import_runner {
    long long job_id;
    const char *worker;
    long long from;
};
/* Saved only while the import still resumes at runner->from and the
 * runner's worker holds the job's lease; *held says whether it was. */
enum nx_err imports_save_progress(struct db *db, const char *id, const struct import_progress *p,
                                  const struct import_runner *runner, bool *held);

/* Record error number n of the import. field NULL for none. */
enum nx_err imports_add_error(struct db *db, const char *id, long long n, long long line,
                              const char *field, const char *message);

/* The end: status 'done' or 'failed'; the chunks are deleted. */
enum nx_err imports_finish(struct db *db, const char *id, const char *status);
/* Why an import whose job has no attempt left ended failed: each attempt
 * failed, or its worker stopped during each (made dead by the reaper). */
#define NX_IMPORT_FAILED_EACH_ATTEMPT                                                              \
    "the import stopped on a server error at each of its attempts; upload it again"
#define NX_IMPORT_WORKER_STOPPED                                                                   \
    "the worker stopped during each of its attempts before it applied another batch; upload"       \
    " the import again"

/* An atomic import whose rows committed: its progress is saved while it
 * still runs (jobs/import), and only then. */
#define NX_SQL_IMPORT_APPLIED "(atomic AND resume_offset > 0)"

/* The CTEs (after WITH) that end the queued or running imports whose ids
 * IDS (SQL of bigints) gives: 'failed', with MESSAGE (SQL text) as an
 * error of line 1 after the others (an atomic one applied nothing: its
 * counters say so), and their chunks deleted; but an atomic one whose rows
 * committed (its cache bump owed with them) ends 'done', as it is. The
 * imports ended are i's ids. A statement that makes a job dead ends its
 * import so, in the same statement: an import never runs on after its job
 * died. */
#define NX_SQL_IMPORTS_END_FAILED(IDS, MESSAGE)                                                    \
    " i AS (UPDATE imports SET finished_at = clock_timestamp(),"                                   \
    " status = CASE WHEN " NX_SQL_IMPORT_APPLIED " THEN 'done' ELSE 'failed' END,"                 \
    " created = CASE WHEN atomic AND NOT " NX_SQL_IMPORT_APPLIED " THEN 0 ELSE created END,"       \
    " updated = CASE WHEN atomic AND NOT " NX_SQL_IMPORT_APPLIED " THEN 0 ELSE updated END"        \
    " WHERE id IN (" IDS ") AND status IN ('queued', 'running') RETURNING id, status),"            \
    " c AS (DELETE FROM import_chunks WHERE import_id IN (SELECT id FROM i)),"                     \
    " e AS (INSERT INTO import_errors (import_id, n, line, field, message)"                        \
    " SELECT i.id, coalesce((SELECT max(n) FROM import_errors WHERE import_id = i.id), 0) + 1,"    \
    " 1, NULL, " MESSAGE " FROM i WHERE i.status = 'failed')"

/* The end of an import queued or running whose job has no attempt left,
 * as NX_SQL_IMPORTS_END_FAILED ends it, with message; only while the
 * runner's worker holds the job's lease. *ended: whether it did end the
 * import. */
enum nx_err imports_give_up(struct db *db, const char *id, const struct import_runner *runner,
                            const char *message, bool *ended);

/* Delete uploads abandoned more than an hour ago; *purged: how many. */
enum nx_err imports_purge_abandoned(struct db *db, int *purged);

/* Imports finished (done or failed) more than retention_seconds ago: up
 * to batch of their errors, and up to batch of those with no error left;
 * *purged: how many rows. */
enum nx_err imports_purge_finished_errors(struct db *db, int retention_seconds, int batch,
                                          int *purged);
enum nx_err imports_purge_finished(struct db *db, int retention_seconds, int batch, int *purged);

/* ---- the batch merge ----------------------------------------------------- */

/* Empty the staging table (created on first use in the session). */
enum nx_err import_stage_reset(struct db *db);

/* COPY text-format rows into it: the rows' products and their variants
 * (see the import_stage and import_stage_variants columns in imports.c);
 * with analyze, then sample them for the planner (once per run is
 * enough: the statistics outlive the stage's TRUNCATE, and the planner
 * counts each batch's rows from its pages). */
enum nx_err import_stage_copy(struct db *db, const struct buf *products, const struct buf *variants,
                              bool analyze);

/* Take the rows the database finds at fault out of the stage (a sku or
 * options twice in one row; an unknown category; SKUs of several
 * products; in create mode a sku a live product holds; a slug another
 * live product or an earlier row holds; a product's stock, the sum over
 * its active variants, past 2147483647), calling fn for each. Each row
 * left names its product: the live one owning a variant with one of its
 * SKUs, or none (a new product). */
typedef void (*import_reject_fn)(void *ctx, long long line, const char *field, const char *message);
enum nx_err import_stage_reject(struct db *db, bool create_mode, import_reject_fn fn, void *ctx);

/* Set aside the rows whose product an earlier row of the stage names,
 * when either row has variants (see SQL_STAGE_DEFER); *deferred: how
 * many. After the merge, import_stage_take_deferred makes them the stage,
 * to be checked and merged again on what the merge left. */
enum nx_err import_stage_defer(struct db *db, long long *deferred);
enum nx_err import_stage_take_deferred(struct db *db);
/* Lock the categories the batch's rows (staged and deferred) set, as
 * their products' foreign key checks will (key share), in one statement
 * before the batch's first write: a merge's later statement would
 * otherwise check a new product's category after an earlier one took
 * the facet counts' tree lock (db/categories: the order a move needs). */
enum nx_err import_stage_lock_categories(struct db *db);

/* The stage's rows that give no slug, in line order: line, name, and
 * whether a live variant holds one of the row's SKUs ("t"/"f"). */
enum nx_err import_stage_derived_rows(struct db *db, PGresult **out);
/* Set the slugs of staged rows: lines a bigint[] literal, slugs a text[]
 * literal of the same length. */
enum nx_err import_stage_set_slugs(struct db *db, const char *lines, const char *slugs);

/* Apply the stage: update the products the rows name (a row without
 * variants writes the price and stock of the variant its sku names; a row
 * with variants replaces the product's variants, matched by sku), insert
 * the rest in line order, with the ids of ids (a bigint[] literal, in
 * order; NULL: new ones). A product that already holds what its rows
 * would write is left as it is. A variant whose stock a row takes below
 * the threshold of alerts queues a low_stock_alert, as the API's writes
 * do. */
struct import_alerts {
    int low_stock_threshold; /* LOW_STOCK_THRESHOLD */
    int max_attempts;        /* of each alert's job */
    const char *import_id;   /* the import's id, which keys its alerts */
};
struct import_merged {
    long long updated;   /* rows that name a product */
    long long created;   /* products inserted */
    long long rewritten; /* products the updated rows changed: written */
};
enum nx_err import_stage_merge(struct db *db, const char *ids, const struct import_alerts *alerts,
                               struct import_merged *merged);

/* Take n ids from the products' sequence, into ids as a bigint[] literal
 * in order: above the ids taken before, below those taken after, so that
 * batches applied at once keep the file's order in their products' ids. */
enum nx_err imports_take_product_ids(struct db *db, size_t n, struct buf *ids);

#endif
