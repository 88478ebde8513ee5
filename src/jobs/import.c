/*
 * import.c -- the import job: see the header.
 */
#include "nexus/jobs/import.h"

#include "nexus/cache/catalog.h"
#include "nexus/core/log.h"
#include "nexus/core/records.h"
#include "nexus/core/strset.h"
#include "nexus/db/imports.h"
#include "nexus/db/seed_indexes.h"
#include "nexus/jobs/import_slugs.h"
#include "nexus/model/catalog.h"
#include "nexus/model/import_row.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A row longer than a JSON request body may be is an error. */
#define ROW_MAX_BYTES (1024 * 1024)

struct row_error {
    long long line;
    size_t order; /* when it was found, to keep a line's errors in order */
    char *field;  /* NULL: not about one field */
    char *message;
};

struct run {
    struct db *db;
    const struct config *cfg;
    char id[24];
    bool csv, create, atomic;
    bool bulk; /* the derived data left to one rebuild at the end */
    bool header_done;
    bool header_failed;
    bool in_tx;
    struct import_columns cols;
    struct import_progress p;
    struct import_runner runner; /* from: the resume line stored now */
    struct records *reader;
    /* Where the record being read starts (its line and byte offset): the
     * resume point saved when a batch is applied before it. */
    long long at_line, at_offset;
    /* The current batch: COPY text of its products (each row's line up
     * to row_end[i], its slug still to come) and of their variants, the
     * skus (of every variant) it holds, and each row's slug: the one
     * given, or (derived[i]) the base derived from the name until the
     * batch is applied and the slug chosen. */
    struct buf copy, copy_variants, staged;
    size_t rows;
    struct strset skus;
    size_t row_end[IMPORT_BATCH_ROWS];
    bool derived[IMPORT_BATCH_ROWS];
    char slugs[IMPORT_BATCH_ROWS][NX_SLUG_MAX + 1];
    /* Errors not yet written (all of them with atomic). */
    struct row_error *errors;
    size_t error_count, error_cap;
};

static void add_error(struct run *run, long long line, const char *field, const char *message) {
    if (run->error_count == run->error_cap) {
        run->error_cap = run->error_cap ? run->error_cap * 2 : 64;
        struct row_error *grown = xrealloc(run->errors, run->error_cap * sizeof *grown);
        run->errors = grown;
    }
    run->errors[run->error_count] = (struct row_error){
        line, run->error_count, field && field[0] ? xstrdup(field) : NULL, xstrdup(message)};
    run->error_count++;
}

static void clear_errors(struct run *run) {
    for (size_t i = 0; i < run->error_count; i++) {
        free(run->errors[i].field);
        free(run->errors[i].message);
    }
    run->error_count = 0;
}

static void add_field_errors(struct run *run, long long line, const struct field_errors *errs) {
    for (size_t i = 0; i < fielderr_count(errs); i++)
        add_error(run, line, fielderr_at(errs, i)->field, fielderr_at(errs, i)->message);
}

/* ---- COPY text ---------------------------------------------------------- */

static void copy_text(struct buf *b, const char *s) {
    if (!s) {
        buf_puts(b, "\\N");
        return;
    }
    for (; *s; s++) {
        switch (*s) {
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '\t':
            buf_puts(b, "\\t");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        default:
            buf_append(b, s, 1);
        }
    }
}

static void copy_fields(struct buf *b, long long line, const char *const *values, size_t n) {
    buf_printf(b, "%lld", line);
    for (size_t i = 0; i < n; i++) {
        buf_puts(b, "\t");
        copy_text(b, values[i]);
    }
}

static void copy_line(struct buf *b, long long line, const char *const *values, size_t n) {
    copy_fields(b, line, values, n);
    buf_puts(b, "\n");
}

static const char *copy_bool(const char *json_bool) {
    return json_bool ? strcmp(json_bool, "true") == 0 ? "t" : "f" : NULL;
}

/* The row's variants: its own sku, price and stock when it has none
 * (options and is_active NULL: left as they are), else each of them. */
static void copy_variants(struct buf *b, long long line, const struct import_row *row) {
    const struct product_input *in = &row->in;
    if (!row->variants) {
        const char *values[] = {"1", in->sku, in->price_cents, in->stock, NULL, NULL};
        copy_line(b, line, values, sizeof values / sizeof *values);
        return;
    }
    for (size_t i = 0; i < row->variant_count; i++) {
        const struct variant_input *v = &row->variants[i];
        char pos[24];
        snprintf(pos, sizeof pos, "%zu", i + 1);
        const char *values[] = {pos,
                                v->sku,
                                v->price_cents,
                                v->stock,
                                v->options ? v->options : "{}",
                                v->is_active ? copy_bool(v->is_active) : "t"};
        copy_line(b, line, values, sizeof values / sizeof *values);
    }
}

/* The product: with variants, the first one's sku and price stand in for
 * what the product derives from them once they are written. Its slug, the
 * last column, is written when the batch is applied (see stage_rows). */
static void copy_row(struct run *run, long long line, const struct import_row *row) {
    const struct product_input *in = &row->in;
    const struct category_ref *c = &row->category;
    const struct variant_input *first = row->variants;
    const char *cat_field = c->given ? "category" : in->category_id[0] ? "category_id" : NULL;
    const char *cat_id = c->given             ? (c->is_id ? c->text : NULL)
                         : in->category_id[0] ? in->category_id
                                              : NULL;
    const char *cat_slug = c->given && !c->is_id ? c->text : NULL;
    const char *values[] = {first ? first->sku : in->sku,
                            in->name,
                            in->slug ? "t" : "f",
                            in->description,
                            first ? first->price_cents : in->price_cents,
                            in->currency,
                            first ? "0" : in->stock,
                            cat_field,
                            cat_id,
                            cat_slug,
                            copy_bool(in->is_active),
                            in->extras.attributes,
                            in->extras.images,
                            first ? "t" : "f"};
    copy_fields(&run->copy, line, values, sizeof values / sizeof *values);
    run->row_end[run->rows] = run->copy.len;
    copy_variants(&run->copy_variants, line, row);
}

/* ---- batches ------------------------------------------------------------ */

/* Each transaction with the import's own statement timeout: a batch's
 * statements may run longer than an API request's. */
static enum nx_err ensure_tx(struct run *run) {
    if (run->in_tx)
        return NX_OK;
    enum nx_err e = db_begin(run->db);
    run->in_tx = e == NX_OK;
    if (e == NX_OK)
        e = imports_statement_timeout(run->db, run->cfg->import_statement_timeout_ms);
    return e;
}

static void on_reject(void *ctx, long long line, const char *field, const char *message) {
    struct run *run = ctx;
    add_error(run, line, field, message);
    run->p.failed++;
}

static int by_line(const void *a, const void *b) {
    const struct row_error *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Errors are numbered in line order: the database's findings for a batch
 * come after the validator's, and go back among them here. */
static enum nx_err write_errors(struct run *run) {
    enum nx_err e = NX_OK;
    if (run->error_count == 0)
        return NX_OK;
    qsort(run->errors, run->error_count, sizeof *run->errors, by_line);
    for (size_t i = 0; i < run->error_count && e == NX_OK; i++)
        e = imports_add_error(run->db, run->id, ++run->p.errors, run->errors[i].line,
                              run->errors[i].field, run->errors[i].message);
    clear_errors(run);
    return e;
}

/* Save the progress, or stop: another runner took the import over (this
 * worker's lease ran out and the job was claimed again), and what this
 * transaction did must not commit. */
static enum nx_err save_progress(struct run *run) {
    bool held = false;
    enum nx_err e = imports_save_progress(run->db, run->id, &run->p, &run->runner, &held);
    if (e == NX_OK && !held) {
        log_warn("import.taken_over", NULL,
                 "import %s: another runner has it; this one stops without saving", run->id);
        return NX_ERR_CONFLICT;
    }
    if (e == NX_OK)
        run->runner.from = run->p.resume_line;
    return e;
}

/* The COPY text of the batch's products, each line with its slug. */
static const struct buf *stage_rows(struct run *run) {
    size_t start = 0;
    run->staged.len = 0;
    for (size_t i = 0; i < run->rows; i++) {
        buf_append(&run->staged, run->copy.data + start, run->row_end[i] - start);
        buf_puts(&run->staged, "\t");
        copy_text(&run->staged, run->slugs[i]);
        buf_puts(&run->staged, "\n");
        start = run->row_end[i];
    }
    return &run->staged;
}

/* Apply the batch, and (unless atomic) commit it with its errors and the
 * progress it makes. */
static enum nx_err flush(struct run *run) {
    long long updated = 0, created = 0;
    enum nx_err e = ensure_tx(run);
    if (e == NX_OK && run->rows && run->bulk)
        e = imports_bulk_load_begin(run->db);
    if (e == NX_OK && run->rows)
        e = import_slugs_choose(run->db, run->slugs, run->derived, run->rows);
    if (e == NX_OK && run->rows)
        e = import_stage_reset(run->db);
    if (e == NX_OK && run->rows)
        e = import_stage_copy(run->db, stage_rows(run), &run->copy_variants);
    if (e == NX_OK && run->rows)
        e = import_stage_reject(run->db, run->create, on_reject, run);
    if (e == NX_OK && run->rows)
        e = import_stage_merge(run->db, &updated, &created);
    run->p.updated += updated;
    run->p.created += created;
    run->p.resume_line = run->at_line;
    run->p.resume_offset = run->at_offset;
    run->rows = 0;
    run->copy.len = run->copy_variants.len = 0;
    strset_empty(&run->skus);
    if (e != NX_OK || run->atomic)
        return e;
    e = write_errors(run);
    if (e == NX_OK)
        e = save_progress(run);
    if (e == NX_OK)
        e = db_commit(run->db);
    run->in_tx = e != NX_OK; /* on failure the job rolls it back */
    if (e == NX_OK && updated + created > 0)
        catalog_cache_bump(CATALOG_CHANGE_ALL, 0); /* a batch may change any product */
    return e;
}

/* Whether a sku of the row is one the batch already has. */
static bool row_in_batch(const struct run *run, const struct import_row *row) {
    if (!row->variants)
        return strset_find(&run->skus, row->in.sku) != STRSET_NONE;
    for (size_t i = 0; i < row->variant_count; i++)
        if (strset_find(&run->skus, row->variants[i].sku) != STRSET_NONE)
            return true;
    return false;
}

static void remember_skus(struct run *run, const struct import_row *row) {
    if (!row->variants)
        strset_add(&run->skus, row->in.sku);
    for (size_t i = 0; row->variants && i < row->variant_count; i++)
        strset_add(&run->skus, row->variants[i].sku);
}

/* A valid row joins the batch (a full batch, or one that already has one
 * of its skus, is applied first: rows apply in file order). A row that
 * gives no slug keeps the base its name gives until the batch is applied
 * (import_slugs_choose). */
static enum nx_err add_row(struct run *run, long long line, const struct import_row *row) {
    enum nx_err e = NX_OK;
    if (run->rows == IMPORT_BATCH_ROWS || row_in_batch(run, row))
        e = flush(run);
    if (e != NX_OK)
        return e;
    char base[NX_SLUG_MAX + 2];
    if (!row->in.slug && !slug_from_name(row->in.name, base, NX_SLUG_MAX)) {
        add_error(run, line, "slug", "cannot be derived from this name; give one");
        run->p.failed++;
        return NX_OK;
    }
    const char *slug = row->in.slug ? row->in.slug : base;
    size_t len = strnlen(slug, NX_SLUG_MAX); /* validated, or cut by slug_from_name */
    memcpy(run->slugs[run->rows], slug, len);
    run->slugs[run->rows][len] = '\0';
    run->derived[run->rows] = !row->in.slug;
    copy_row(run, line, row);
    remember_skus(run, row);
    run->rows++;
    return NX_OK;
}

/* The CSV header: a bad one fails the import (its errors on line 1). */
static enum nx_err on_header(struct run *run, const struct record *rec) {
    struct field_errors errs = {0};
    run->header_done = true;
    if (import_columns_parse(&errs, rec, &run->cols) != NX_OK) {
        add_field_errors(run, rec->line, &errs);
        run->header_failed = true;
    }
    fielderr_clear(&errs);
    return run->header_failed ? NX_ERR_VALIDATION : NX_OK; /* stops the reader */
}

static enum nx_err on_record(void *ctx, const struct record *rec) {
    struct run *run = ctx;
    struct field_errors errs = {0};
    struct import_row row;
    if (run->csv && !run->header_done)
        return on_header(run, rec);
    if (rec->line < run->p.resume_line)
        return NX_OK; /* applied before a crash */
    run->at_line = rec->line;
    run->at_offset = records_record_offset(run->reader);
    enum nx_err e = run->csv ? import_row_from_csv(&errs, &run->cols, rec, &row)
                             : import_row_from_ndjson(&errs, rec, &row);
    if (e == NX_OK) {
        e = add_row(run, rec->line, &row);
        /* Counted after add_row: a batch it applies first saves the count
         * with a resume line at this row, which a rerun reads again. */
        run->p.rows++;
    } else {
        run->p.rows++;
        add_field_errors(run, rec->line, &errs);
        run->p.failed++;
        e = NX_OK;
    }
    import_row_clear(&row);
    fielderr_clear(&errs);
    return e;
}

/* ---- the job -------------------------------------------------------------- */

/* Feed the reader the upload from chunk seq on (the first from byte
 * skip), then tell it the upload ended. */
static enum nx_err read_chunks(struct run *run, struct records *reader, int seq, long long skip) {
    enum nx_err e = NX_OK;
    for (; e == NX_OK; seq++, skip = 0) {
        PGresult *r = NULL;
        e = imports_chunk(run->db, run->id, seq, &r);
        if (e == NX_OK && PQntuples(r) == 0) {
            PQclear(r);
            return records_finish(reader);
        }
        size_t len = 0;
        unsigned char *bytes =
            e == NX_OK ? PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &len) : NULL;
        PQclear(r);
        if (e == NX_OK && (!bytes || (unsigned long long)skip > len))
            e = NX_ERR_INTERNAL;
        if (e == NX_OK)
            e = records_feed(reader, (const char *)bytes + skip, len - (size_t)skip);
        PQfreemem(bytes);
    }
    return e;
}

/* Not an error: what stops the reader of a resumed CSV's header. */
#define HEADER_READ NX_ERR__COUNT

static enum nx_err header_only(void *ctx, const struct record *rec) {
    enum nx_err e = on_header(ctx, rec);
    return e == NX_OK ? HEADER_READ : e;
}

/* The chunk and the byte in it where the resume offset is. */
static enum nx_err locate(struct run *run, int *seq, long long *skip) {
    PGresult *r = NULL;
    enum nx_err e = imports_chunk_sizes(run->db, run->id, &r);
    *skip = run->p.resume_offset;
    for (*seq = 0; e == NX_OK && *seq < PQntuples(r); ++*seq) {
        long long size = strtoll(PQgetvalue(r, *seq, 0), NULL, 10);
        if (*skip < size)
            break;
        *skip -= size;
    }
    PQclear(r);
    return e;
}

/* Read the upload, from where an earlier run stopped: a CSV's header
 * first, then the records from the resume offset on. */
static enum nx_err read_upload(struct run *run) {
    int seq = 0;
    long long skip = 0;
    enum nx_err e = NX_OK;
    if (run->p.resume_offset > 0 && run->csv) {
        struct records *header = records_new(RECORD_CSV, ROW_MAX_BYTES, header_only, run);
        e = read_chunks(run, header, 0, 0);
        records_free(header);
        e = e == HEADER_READ ? NX_OK : e;
    }
    run->reader = records_new(run->csv ? RECORD_CSV : RECORD_NDJSON, ROW_MAX_BYTES, on_record, run);
    if (e == NX_OK && run->p.resume_offset > 0) {
        records_resume(run->reader, (long)run->p.resume_line, run->p.resume_offset);
        e = locate(run, &seq, &skip);
    }
    if (e == NX_OK)
        e = read_chunks(run, run->reader, seq, skip);
    /* what the last batch is applied before: the end of the upload */
    run->at_line = records_line(run->reader);
    run->at_offset = records_offset(run->reader);
    records_free(run->reader);
    run->reader = NULL;
    return e;
}

/* The end: 'done', or 'failed' (a bad header; with atomic, any error,
 * after the rows were rolled back). */
static enum nx_err finish(struct run *run) {
    bool failed = run->header_failed || (run->atomic && run->p.failed > 0);
    enum nx_err e = NX_OK;
    if (run->atomic && failed && run->in_tx) {
        db_rollback(run->db);
        run->in_tx = false;
        run->p.created = run->p.updated = 0;
    }
    e = ensure_tx(run);
    if (e == NX_OK)
        e = write_errors(run);
    if (e == NX_OK)
        e = save_progress(run);
    if (e == NX_OK)
        e = imports_finish(run->db, run->id, failed ? "failed" : "done");
    if (e == NX_OK)
        e = db_commit(run->db);
    run->in_tx = e != NX_OK;
    if (e == NX_OK && run->atomic && !failed && run->p.created + run->p.updated > 0)
        catalog_cache_bump(CATALOG_CHANGE_ALL, 0); /* a batch may change any product */
    return e;
}

/* ---- a bulk load ------------------------------------------------------------ */

/* A large import into an empty catalog loads as the seed does: the
 * indexes that only serve readers are dropped (listed in
 * seed_pending_indexes, committed at once, before the first batch) and
 * built after the last batch, two at a time; and the tables the triggers
 * derive (facet counts, numeric attributes, term order tables) are left
 * to one rebuild after the last batch, each batch marking it pending
 * (db/imports.h). Not with atomic: the drops would have to commit before
 * the import does, or lock readers out of the catalog until it ends. */
static enum nx_err bulk_begin(struct run *run, const struct config *cfg) {
    bool bulk = false;
    enum nx_err e = imports_is_bulk(run->db, run->id, cfg->import_bulk_min_bytes, &bulk);
    if (e != NX_OK || !bulk)
        return e;
    log_info("import.bulk", NULL,
             "import %s: into an empty catalog, the indexes and derived data built after it",
             run->id);
    run->bulk = true;
    e = db_begin(run->db);
    if (e == NX_OK)
        e = seed_indexes_drop(run->db, INDEXES_OF_READERS);
    if (e == NX_OK)
        e = db_commit(run->db);
    db_rollback(run->db); /* a no-op after the commit */
    return e;
}

/* The derived tables rebuilt, in one transaction that clears the mark. */
static enum nx_err rebuild_derived(struct db *db) {
    enum nx_err e = db_begin(db);
    if (e == NX_OK)
        e = imports_derived_rebuild(db);
    if (e == NX_OK)
        e = db_commit(db);
    db_rollback(db); /* a no-op after the commit */
    return e;
}

/* Rebuild the derived data if a bulk load left it pending, then build the
 * indexes still listed (dropped by this import, by an earlier run of it
 * that stopped, or by another load), before the import is marked done;
 * on a connection of its own without a statement timeout, as the builds
 * change their session settings. A run that stops meanwhile does the rest
 * when the job runs again. */
static enum nx_err bulk_end(struct run *run, const struct config *cfg) {
    bool derived = false, indexes = false;
    enum nx_err e = imports_derived_pending(run->db, &derived);
    if (e == NX_OK)
        e = seed_indexes_pending(run->db, &indexes);
    if (e != NX_OK || (!derived && !indexes))
        return e;
    struct db *db = db_open(cfg->database_url);
    if (!db)
        return NX_ERR_UNAVAILABLE;
    e = db_exec_sql(db, "SET statement_timeout = 0");
    if (e == NX_OK && derived)
        e = rebuild_derived(db);
    if (e == NX_OK && indexes)
        e = seed_indexes_build(db, cfg->database_url, false);
    db_close(db);
    return e;
}

/* Load the import's settings and progress; *skip when it is finished. */
static enum nx_err start(struct run *run, bool *skip) {
    PGresult *r = NULL;
    enum nx_err e = imports_start(run->db, run->id, &r);
    *skip = e == NX_OK && PQntuples(r) == 0;
    if (e == NX_OK && !*skip) {
        run->csv = strcmp(PQgetvalue(r, 0, IMC_FORMAT), "csv") == 0;
        run->create = strcmp(PQgetvalue(r, 0, IMC_MODE), "create") == 0;
        run->atomic = strcmp(PQgetvalue(r, 0, IMC_ATOMIC), "t") == 0;
        /* atomic: nothing of an earlier try was kept, so start over */
        bool resume = !run->atomic;
        run->p.rows = resume ? strtoll(PQgetvalue(r, 0, IMC_ROWS), NULL, 10) : 0;
        run->p.created = resume ? strtoll(PQgetvalue(r, 0, IMC_CREATED), NULL, 10) : 0;
        run->p.updated = resume ? strtoll(PQgetvalue(r, 0, IMC_UPDATED), NULL, 10) : 0;
        run->p.failed = resume ? strtoll(PQgetvalue(r, 0, IMC_FAILED), NULL, 10) : 0;
        run->p.resume_line = resume ? strtoll(PQgetvalue(r, 0, IMC_RESUME_LINE), NULL, 10) : 1;
        run->p.errors = resume ? strtoll(PQgetvalue(r, 0, IMC_ERROR_COUNT), NULL, 10) : 0;
        run->p.resume_offset = resume ? strtoll(PQgetvalue(r, 0, IMC_RESUME_OFFSET), NULL, 10) : 0;
        run->runner.from = strtoll(PQgetvalue(r, 0, IMC_RESUME_LINE), NULL, 10);
    }
    PQclear(r);
    return e;
}

bool import_job(const struct config *cfg, struct db *db, const struct job *job, char *err,
                size_t errcap) {
    struct run *run = xcalloc(1, sizeof *run);
    json_t *id = json_object_get(job->payload, "import_id");
    bool skip = false;
    enum nx_err e = NX_OK;
    if (!json_is_integer(id)) {
        snprintf(err, errcap, "payload has no import_id");
        free(run);
        return false;
    }
    run->db = db;
    run->cfg = cfg;
    run->runner = (struct import_runner){job->id, job->worker, 1};
    snprintf(run->id, sizeof run->id, "%lld", (long long)json_integer_value(id));
    e = start(run, &skip);
    if (e == NX_OK && !skip && !run->atomic)
        e = bulk_begin(run, cfg);
    if (e == NX_OK && !skip && run->atomic)
        e = ensure_tx(run);
    if (e == NX_OK && !skip) {
        e = read_upload(run);
        if (e == NX_ERR_VALIDATION && run->header_failed)
            e = NX_OK;
        if (e == NX_OK && !run->header_failed)
            e = flush(run);
        if (e == NX_OK && !run->atomic)
            e = bulk_end(run, cfg);
        if (e == NX_OK)
            e = finish(run);
    }
    if (run->in_tx)
        db_rollback(db);
    if (e != NX_OK)
        snprintf(err, errcap, "import %s stopped (error %d); it resumes on the next attempt",
                 run->id, (int)e);
    else if (!skip)
        log_info("import.done", NULL,
                 "import %s: %lld rows, %lld created, %lld updated, %lld failed", run->id,
                 run->p.rows, run->p.created, run->p.updated, run->p.failed);
    clear_errors(run);
    free(run->errors);
    buf_clear(&run->copy);
    buf_clear(&run->copy_variants);
    strset_free(&run->skus);
    buf_clear(&run->staged);
    free(run);
    return e == NX_OK;
}
