/*
 * import.c -- the import job: see the header.
 */
#include "nexus/jobs/import.h"

#include "nexus/cache/cache.h"
#include "nexus/core/log.h"
#include "nexus/core/records.h"
#include "nexus/core/strset.h"
#include "nexus/db/categories.h"
#include "nexus/db/db.h"
#include "nexus/db/imports.h"
#include "nexus/db/seed_indexes.h"
#include "nexus/jobs/catalog_bump.h"
#include "nexus/jobs/import_slugs.h"
#include "nexus/model/catalog.h"
#include "nexus/model/import_row.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A row longer than a JSON request body may be is an error (its message
 * names the limit, which openapi.yaml and the README give). */
#define ROW_MAX_BYTES (1024 * 1024)

struct row_error {
    long long line;
    size_t order; /* when it was found, to keep a line's errors in order */
    char *field;  /* NULL: not about one field */
    char *message;
};

struct error_list {
    struct row_error *items;
    size_t count, cap;
};

/* A batch: read and validated by the reader (the job's thread), then
 * applied by an applier (a thread with a connection: one, or two in a
 * bulk load, each applying a batch while the reader fills the next).
 * COPY text of its products (each row's line up to row_end[i], its slug
 * still to come) and of their variants, the skus (of every variant) it
 * holds, and each row's slug: the one given, or (derived[i]) the base
 * derived from the name, from which slugs[] is chosen each time the batch
 * is applied. */
struct batch {
    long long seq; /* batches are numbered from 0 in each run */
    bool held;     /* a transaction applying it holds its order lock */
    /* With two appliers: the ids its new products take, in line order (a
     * bigint[] literal, taken by the reader as it hands the batch over, so
     * in the batches' order), and whether a try at it has begun. */
    struct buf ids;
    bool ids_taken, begun;
    struct buf copy, copy_variants, staged;
    size_t rows;
    struct strset skus;
    /* every sku of every row (its own, or its variants'), and the row each
     * is of (from 1): text[] literals */
    struct buf row_skus, sku_rows;
    size_t row_end[IMPORT_BATCH_ROWS];
    bool derived[IMPORT_BATCH_ROWS];
    char bases[IMPORT_BATCH_ROWS][NX_SLUG_MAX + 1];
    char slugs[IMPORT_BATCH_ROWS][NX_SLUG_MAX + 1]; /* chosen from bases as it is applied */
    struct error_list errors; /* the validator's, for the rows read since the last batch */
    /* The reader's counts when the batch was cut (rows read, rows the
     * validator failed), and where the next batch starts. */
    long long read_rows, read_failed, resume_line, resume_offset;
};

#define APPLIERS 2
#define BATCHES  (APPLIERS + 1) /* one more than the appliers: the reader's */

struct run;
struct applier {
    struct run *run;
    struct db *db; /* the first: the job's; the second its own */
    pthread_t thread;
    bool running, in_tx;
    bool stage_analyzed; /* the stage's statistics taken on this connection */
    /* The database's findings in the batch being applied, and how many
     * rows they failed: kept once it commits. */
    struct error_list found;
    long long found_failed;
};

struct run {
    struct db *db;     /* the job's: the first applier's while the batches apply */
    struct db *chunks; /* the reader's: the upload's chunks */
    const struct config *cfg;
    char id[24];
    bool csv, create, atomic;
    bool bulk; /* the derived data left to one rebuild at the end */
    bool header_done;
    bool header_failed; /* a bad or missing header, or an upload that is no UTF-8 text */
    bool failed;        /* it ended 'failed' (finish), for its log line... */
    char reason[600];   /* ...which says why */
    double started;     /* seconds_now() when the run began */
    struct import_columns cols;
    /* Kept by the batches in their order: the progress saved with each,
     * the rows the database failed since the run began, and the errors
     * not yet written (all of them with atomic). */
    struct import_progress p;
    long long db_failed;
    long long written; /* products created or rewritten by this attempt's batches */
    struct error_list errors;
    struct import_runner runner; /* from: the resume line stored now */
    /* The reader's: the records, the counts, and where the record being
     * read starts (its line and byte offset): the resume point saved when
     * a batch is applied before it. */
    struct records *reader;
    long long read_rows, read_failed, first_line, first_offset;
    long long at_line, at_offset;
    /* Batch number seq is batches[seq % BATCHES]; the reader fills number
     * handed (the batches before it were handed to the appliers), the
     * appliers have taken those before claimed, and those before committed
     * are applied and committed, in order. */
    struct batch batches[BATCHES];
    long long handed, claimed, committed;
    long long begun; /* the batches whose first try has begun, in order */
    struct applier appliers[APPLIERS];
    int applier_count;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool stopping;
    enum nx_err apply_err; /* the first error of a batch: the rest stop */
    bool refund_owed;      /* a later attempt: its first committed batch refunds it */
    bool refunded;         /* it was: the job's count is 1 again, whatever job->attempts says */
    bool applied;          /* atomic: an earlier attempt committed its rows (start) */
};

static void add_error(struct error_list *list, long long line, const char *field,
                      const char *message) {
    if (list->count == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 64;
        struct row_error *grown = xrealloc(list->items, list->cap * sizeof *grown);
        list->items = grown;
    }
    list->items[list->count] = (struct row_error){
        line, list->count, field && field[0] ? xstrdup(field) : NULL, xstrdup(message)};
    list->count++;
}

static void clear_errors(struct error_list *list) {
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].field);
        free(list->items[i].message);
    }
    list->count = 0;
}

/* Move the errors of from to the end of to, in their order. */
static void take_errors(struct error_list *to, struct error_list *from) {
    for (size_t i = 0; i < from->count; i++) {
        add_error(to, from->items[i].line, NULL, from->items[i].message);
        to->items[to->count - 1].field = from->items[i].field;
        from->items[i].field = NULL;
    }
    clear_errors(from);
}

static void add_field_errors(struct error_list *list, long long line,
                             const struct field_errors *errs) {
    for (size_t i = 0; i < fielderr_count(errs); i++)
        add_error(list, line, fielderr_at(errs, i)->field, fielderr_at(errs, i)->message);
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
static void copy_row(struct batch *b, long long line, const struct import_row *row) {
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
                            row->keeps_images ? NULL : in->extras.images,
                            first ? "t" : "f"};
    copy_fields(&b->copy, line, values, sizeof values / sizeof *values);
    b->row_end[b->rows] = b->copy.len;
    copy_variants(&b->copy_variants, line, row);
}

/* A batch may change any product: its bump is owed in its transaction,
 * and made once it committed (jobs/catalog_bump), so that a worker that
 * stops in between leaves it to the servers. */
static enum nx_err owe_bump(struct db *db, bool wrote, int64_t *owed) {
    *owed = 0;
    return wrote ? catalog_bump_owe(db, false, owed) : NX_OK;
}

static void bump_after_commit(struct db *db, bool wrote, int64_t owed) {
    if (wrote)
        catalog_bump_owed_landed(db, owed);
}

/* ---- batches ------------------------------------------------------------ */

/* Each transaction with the import's own statement timeout: a batch's
 * statements may run longer than an API request's. */
static enum nx_err ensure_tx(struct applier *a) {
    if (a->in_tx)
        return NX_OK;
    enum nx_err e = db_begin(a->db);
    a->in_tx = e == NX_OK;
    if (e == NX_OK)
        e = imports_statement_timeout(a->db, a->run->cfg->import_statement_timeout_ms);
    return e;
}

static void rollback(struct applier *a) {
    if (a->in_tx)
        db_rollback(a->db);
    a->in_tx = false;
}

static void on_reject(void *ctx, long long line, const char *field, const char *message) {
    struct applier *a = ctx;
    add_error(&a->found, line, field, message);
    a->found_failed++;
}

static int by_line(const void *a, const void *b) {
    const struct row_error *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Errors are numbered in line order: the database's findings for a batch
 * come after the validator's, and go back among them here. */
static enum nx_err write_errors(struct run *run, struct db *db) {
    enum nx_err e = NX_OK;
    struct error_list *list = &run->errors;
    if (list->count == 0)
        return NX_OK;
    qsort(list->items, list->count, sizeof *list->items, by_line);
    for (size_t i = 0; i < list->count && e == NX_OK; i++)
        e = imports_add_error(db, run->id, ++run->p.errors, list->items[i].line,
                              list->items[i].field, list->items[i].message);
    clear_errors(list);
    return e;
}

/* Save the progress, or stop: another runner took the import over (this
 * worker's lease ran out and the job was claimed again), and what this
 * transaction did must not commit. */
static enum nx_err save_progress(struct run *run, struct db *db) {
    bool held = false;
    enum nx_err e = imports_save_progress(db, run->id, &run->p, &run->runner, &held);
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
static const struct buf *stage_rows(struct batch *b) {
    size_t start = 0;
    b->staged.len = 0;
    for (size_t i = 0; i < b->rows; i++) {
        buf_append(&b->staged, b->copy.data + start, b->row_end[i] - start);
        buf_puts(&b->staged, "\t");
        copy_text(&b->staged, b->slugs[i]);
        buf_puts(&b->staged, "\n");
        start = b->row_end[i];
    }
    return &b->staged;
}

/* The rows of the batch into the stage, checked, and merged. */
static enum nx_err merge_batch(struct applier *a, struct batch *b, struct import_merged *merged) {
    struct run *run = a->run;
    enum nx_err e = NX_OK;
    if (run->bulk)
        e = imports_bulk_load_begin(a->db);
    if (e == NX_OK)
        e = import_slugs_choose(a->db, (const char(*)[NX_SLUG_MAX + 1]) b->bases, b->slugs,
                                b->derived, b->row_skus.data, b->sku_rows.data, b->rows);
    if (e == NX_OK)
        e = import_stage_reset(a->db);
    if (e == NX_OK)
        e = import_stage_copy(a->db, stage_rows(b), &b->copy_variants, !a->stage_analyzed);
    a->stage_analyzed = a->stage_analyzed || e == NX_OK;
    long long deferred = 0;
    const struct import_alerts alerts = {run->cfg->low_stock_threshold, run->cfg->job_max_attempts,
                                         run->id};
    if (e == NX_OK)
        e = import_stage_reject(a->db, run->create, on_reject, a);
    if (e == NX_OK)
        e = import_stage_defer(a->db, &deferred);
    if (e == NX_OK)
        e = import_stage_lock_categories(a->db);
    if (e == NX_OK)
        e = import_stage_merge(a->db, b->ids_taken ? b->ids.data : NULL, &alerts, merged);
    /* rows that name a product an earlier row of the batch rewrote: merged
     * after it, on what it left (new products then take fresh ids, and
     * slugs chosen again: a row whose SKU it freed makes a product) */
    while (e == NX_OK && deferred > 0) {
        struct import_merged more = {0};
        e = import_stage_take_deferred(a->db);
        if (e == NX_OK)
            e = import_slugs_choose_staged(a->db);
        if (e == NX_OK)
            e = import_stage_reject(a->db, run->create, on_reject, a);
        if (e == NX_OK)
            e = import_stage_defer(a->db, &deferred);
        if (e == NX_OK)
            e = import_stage_merge(a->db, NULL, &alerts, &more);
        merged->updated += more.updated;
        merged->created += more.created;
        merged->rewritten += more.rewritten;
    }
    return e;
}

/* ---- the batches' order ----------------------------------------------------- */

/* Two batches apply at once, and commit in their order. No applier waits
 * for another in the application while its transaction holds anything:
 * a batch waits for the one before it on that one's order lock (in the
 * database, which breaks a deadlock between the two), and a batch whose
 * turn it cannot take so is rolled back and applied again alone, once
 * every batch before it committed. */

/* Wait until every batch before upto committed (an applier: holding
 * nothing); the first error of a batch instead, if any. */
static enum nx_err wait_committed(struct run *run, long long upto) {
    pthread_mutex_lock(&run->lock);
    while (run->committed < upto && run->apply_err == NX_OK)
        pthread_cond_wait(&run->changed, &run->lock);
    enum nx_err e = run->apply_err;
    pthread_mutex_unlock(&run->lock);
    return e;
}

static void set_held(struct run *run, struct batch *b, bool held) {
    pthread_mutex_lock(&run->lock);
    b->held = held;
    pthread_cond_broadcast(&run->changed);
    pthread_mutex_unlock(&run->lock);
}

/* Whether every batch before b committed, once the one just before it
 * ended (waited for on its order lock while a transaction holds it; then
 * for its applier to say how it ended, which it does without waiting on
 * anything). */
static enum nx_err follow(struct applier *a, struct batch *b) {
    struct run *run = a->run;
    /* the one before (for the first batch a slot that does not matter: its turn has come) */
    const struct batch *before = &run->batches[(b->seq + BATCHES - 1) % BATCHES];
    pthread_mutex_lock(&run->lock);
    bool before_held = before->held;
    bool turn = run->committed == b->seq;
    pthread_mutex_unlock(&run->lock);
    if (turn)
        return NX_OK;
    if (!before_held)
        return NX_ERR_CONFLICT; /* not begun, or to be applied again: this one after it */
    enum nx_err e = imports_batch_lock(a->db, run->id, b->seq - 1, true);
    pthread_mutex_lock(&run->lock);
    while (e == NX_OK && before->held && run->committed < b->seq)
        pthread_cond_wait(&run->changed, &run->lock);
    turn = run->committed == b->seq;
    pthread_mutex_unlock(&run->lock);
    return e == NX_OK && !turn ? NX_ERR_CONFLICT : e;
}

static void set_committed(struct run *run, const struct batch *b) {
    pthread_mutex_lock(&run->lock);
    run->committed = b->seq + 1;
    pthread_cond_broadcast(&run->changed);
    pthread_mutex_unlock(&run->lock);
}

/* A batch committed: this attempt made progress that a later one does
 * not redo, so a worker killed again and again during a long import does
 * not use up the job's attempts (queue_refund). A failure only costs the
 * refund. */
static void refund_attempt(struct run *run, struct db *db) {
    run->refund_owed = false;
    run->refunded = queue_refund(db, run->runner.job_id, run->runner.worker) == NX_OK;
    if (!run->refunded)
        log_warn("import.refund", NULL, "import %s: its attempt was not refunded", run->id);
}

/* Its turn come, the batch's errors and counts join the run's and (unless
 * atomic) commit with its rows and the progress it makes. */
static enum nx_err commit_batch(struct applier *a, struct batch *b,
                                const struct import_merged *merged) {
    struct run *run = a->run;
    take_errors(&run->errors, &b->errors);
    take_errors(&run->errors, &a->found);
    run->db_failed += a->found_failed;
    run->p.updated += merged->updated;
    run->p.created += merged->created;
    run->written += merged->created + merged->rewritten;
    /* an attempt that only commits the empty last batch of an upload read
     * to its end made no progress: refunded, it could be tried for good */
    bool progressed = b->resume_offset > run->p.resume_offset;
    run->p.rows = b->read_rows;
    run->p.failed = b->read_failed + run->db_failed;
    run->p.resume_line = b->resume_line;
    run->p.resume_offset = b->resume_offset;
    /* a batch whose rows all equal their products wrote nothing */
    bool wrote = !run->atomic && merged->created + merged->rewritten > 0;
    int64_t owed = 0;
    enum nx_err e = run->atomic ? NX_OK : write_errors(run, a->db);
    if (e == NX_OK && !run->atomic)
        e = save_progress(run, a->db);
    if (e == NX_OK)
        e = owe_bump(a->db, wrote, &owed);
    if (e == NX_OK && !run->atomic)
        e = db_commit(a->db);
    if (e == NX_OK && !run->atomic && run->refund_owed && progressed)
        refund_attempt(run, a->db);
    a->in_tx = run->atomic || e != NX_OK; /* on failure the job rolls it back */
    if (e == NX_OK)
        set_committed(run, b);
    if (e == NX_OK)
        bump_after_commit(a->db, wrote, owed);
    return e;
}

/* The first try at a batch begins after the batch before it began (its
 * transaction's start is its products' created_at); waiting for that, it
 * holds nothing. */
static enum nx_err begin_in_order(struct applier *a, struct batch *b) {
    struct run *run = a->run;
    if (b->begun)
        return ensure_tx(a);
    enum nx_err e = NX_OK;
    pthread_mutex_lock(&run->lock);
    while (run->begun < b->seq && run->apply_err == NX_OK)
        pthread_cond_wait(&run->changed, &run->lock);
    e = run->apply_err;
    pthread_mutex_unlock(&run->lock);
    if (e == NX_OK)
        e = ensure_tx(a);
    b->begun = true;
    pthread_mutex_lock(&run->lock);
    run->begun = b->seq + 1;
    pthread_cond_broadcast(&run->changed);
    pthread_mutex_unlock(&run->lock);
    return e;
}

/* One try at the batch: merged in a transaction that holds its order lock
 * (with two appliers), then committed in its turn (*final: it was its
 * turn, and what failed is no other batch's doing). */
static enum nx_err try_batch(struct applier *a, struct batch *b, bool alone, bool *final) {
    struct run *run = a->run;
    struct import_merged merged = {0};
    clear_errors(&a->found);
    a->found_failed = 0;
    enum nx_err e = run->applier_count > 1 ? begin_in_order(a, b) : ensure_tx(a);
    if (e == NX_OK && run->applier_count > 1) {
        e = imports_batch_lock(a->db, run->id, b->seq, false);
        if (e == NX_OK)
            set_held(run, b, true);
    }
    if (e == NX_OK && b->rows)
        e = merge_batch(a, b, &merged);
    if (e == NX_OK && !alone)
        e = follow(a, b);
    *final = e == NX_OK;
    return e == NX_OK ? commit_batch(a, b, &merged) : e;
}

/* Whether a failed try is worth another, alone: beside another batch
 * anything may have been the other's doing (a wait it timed out, a key it
 * held, a deadlock); alone, only a deadlock with a later batch. Never
 * with atomic: the transaction holds the batches before. */
static bool try_again(const struct applier *a, bool alone, bool final) {
    return !a->run->atomic && !final && (!alone || strcmp(db_sqlstate(a->db), "40P01") == 0);
}

#define BATCH_TRIES 4

static enum nx_err apply_batch(struct applier *a, struct batch *b) {
    struct run *run = a->run;
    enum nx_err e = NX_OK;
    for (int tries = 0; tries < BATCH_TRIES; tries++) {
        bool alone = tries > 0 || run->applier_count == 1, final = false;
        e = alone ? wait_committed(run, b->seq) : NX_OK;
        if (e != NX_OK)
            break; /* another batch failed */
        e = try_batch(a, b, alone, &final);
        bool again = e != NX_OK && try_again(a, alone, final);
        if (e != NX_OK && !run->atomic)
            rollback(a); /* with atomic, the job rolls back */
        if (run->applier_count > 1)
            set_held(run, b, false);
        if (!again)
            break;
    }
    return e;
}

static void *applier_main(void *arg) {
    struct applier *a = arg;
    struct run *run = a->run;
    pthread_mutex_lock(&run->lock);
    for (;;) {
        while (run->claimed == run->handed && !run->stopping && run->apply_err == NX_OK)
            pthread_cond_wait(&run->changed, &run->lock);
        if (run->claimed == run->handed || run->apply_err != NX_OK)
            break; /* stopped, or a batch failed: the rest wait for the next run */
        struct batch *b = &run->batches[run->claimed++ % BATCHES];
        pthread_mutex_unlock(&run->lock);
        enum nx_err e = apply_batch(a, b);
        pthread_mutex_lock(&run->lock);
        if (e != NX_OK && run->apply_err == NX_OK)
            run->apply_err = e;
        pthread_cond_broadcast(&run->changed);
    }
    pthread_mutex_unlock(&run->lock);
    /* a batch's cache bump asks this thread's connections */
    db_thread_close();
    cache_thread_close();
    return NULL;
}

/* The appliers: on the job's connection, and in a bulk load (not atomic)
 * one more on a connection of its own. */
static enum nx_err appliers_start(struct run *run) {
    run->applier_count = run->bulk ? APPLIERS : 1;
    for (int i = 0; i < run->applier_count; i++) {
        struct applier *a = &run->appliers[i];
        a->run = run;
        a->db = i == 0 ? run->db : db_open(run->cfg->database_url);
        if (!a->db)
            return NX_ERR_UNAVAILABLE;
        a->running = pthread_create(&a->thread, NULL, applier_main, a) == 0;
        if (!a->running)
            return NX_ERR_INTERNAL;
    }
    return NX_OK;
}

/* Stop the appliers once the batches handed are applied; the first error
 * of a batch, if any. The first applier's transaction is left to the job
 * (with atomic, it holds the rows). */
static enum nx_err appliers_stop(struct run *run) {
    enum nx_err e = wait_committed(run, run->handed);
    pthread_mutex_lock(&run->lock);
    run->stopping = true;
    pthread_cond_broadcast(&run->changed);
    pthread_mutex_unlock(&run->lock);
    for (int i = 0; i < APPLIERS; i++) {
        struct applier *a = &run->appliers[i];
        if (a->running)
            pthread_join(a->thread, NULL);
        a->running = false;
        if (i > 0 && a->db) {
            rollback(a);
            db_close(a->db);
            a->db = NULL;
        }
    }
    return e;
}

/* The batch the reader fills. */
static struct batch *filling(struct run *run) {
    return &run->batches[run->handed % BATCHES];
}

static void batch_empty(struct batch *b) {
    b->rows = 0;
    b->ids_taken = b->begun = false;
    b->copy.len = b->copy_variants.len = b->row_skus.len = b->sku_rows.len = 0;
    strset_empty(&b->skus);
}

/* The reader: hand the batch it filled to the appliers, and fill the next
 * one once the batch that used its memory before has committed. */
static enum nx_err flush(struct run *run) {
    struct batch *b = &run->batches[run->handed % BATCHES];
    b->seq = run->handed;
    b->read_rows = run->read_rows;
    b->read_failed = run->read_failed;
    b->resume_line = run->at_line;
    b->resume_offset = run->at_offset;
    if (run->applier_count > 1) {
        enum nx_err taken = imports_take_product_ids(run->chunks, b->rows, &b->ids);
        if (taken != NX_OK)
            return taken;
        b->ids_taken = true;
    }
    pthread_mutex_lock(&run->lock);
    run->handed++;
    pthread_cond_broadcast(&run->changed);
    pthread_mutex_unlock(&run->lock);
    enum nx_err e = wait_committed(run, run->handed + 1 - BATCHES);
    if (e == NX_OK)
        batch_empty(&run->batches[run->handed % BATCHES]);
    return e;
}

/* Whether a sku of the row is one the batch already has. */
static bool row_in_batch(const struct batch *b, const struct import_row *row) {
    if (!row->variants)
        return strset_find(&b->skus, row->in.sku) != STRSET_NONE;
    for (size_t i = 0; i < row->variant_count; i++)
        if (strset_find(&b->skus, row->variants[i].sku) != STRSET_NONE)
            return true;
    return false;
}

static void remember_skus(struct batch *b, const struct import_row *row) {
    if (!row->variants)
        strset_add(&b->skus, row->in.sku);
    for (size_t i = 0; row->variants && i < row->variant_count; i++)
        strset_add(&b->skus, row->variants[i].sku);
}

/* Every sku of the row, each with the row's number in the batch (from
 * 1): a row with variants names a product by any of its skus a live
 * variant holds, not only its first. */
static void add_row_skus(struct batch *b, const struct import_row *row) {
    char n[24];
    snprintf(n, sizeof n, "%zu", b->rows + 1);
    for (size_t i = 0; i < (row->variants ? row->variant_count : 1); i++) {
        db_text_array_add(&b->row_skus, row->variants ? row->variants[i].sku : row->in.sku);
        db_text_array_add(&b->sku_rows, n);
    }
}

/* A valid row joins the batch (a full batch, or one that already has one
 * of its skus, is applied first: rows apply in file order). A row that
 * gives no slug keeps the base its name gives until the batch is applied
 * (import_slugs_choose). */
static enum nx_err add_row(struct run *run, long long line, const struct import_row *row) {
    enum nx_err e = NX_OK;
    struct batch *b = filling(run);
    if (b->rows == IMPORT_BATCH_ROWS || row_in_batch(b, row))
        e = flush(run);
    if (e != NX_OK)
        return e;
    b = filling(run);
    char base[NX_SLUG_MAX + 2];
    if (!row->in.slug && !slug_from_name(row->in.name, base, NX_SLUG_MAX)) {
        add_error(&b->errors, line, "slug", "cannot be derived from this name; give one");
        run->read_failed++;
        return NX_OK;
    }
    const char *slug = row->in.slug ? row->in.slug : base;
    size_t len = strnlen(slug, NX_SLUG_MAX); /* validated, or cut by slug_from_name */
    memcpy(b->bases[b->rows], slug, len);
    b->bases[b->rows][len] = '\0';
    b->derived[b->rows] = !row->in.slug;
    copy_row(b, line, row);
    remember_skus(b, row);
    add_row_skus(b, row);
    b->rows++;
    return NX_OK;
}

/* The CSV header: a bad one fails the import (its errors on line 1). */
static enum nx_err on_header(struct run *run, const struct record *rec) {
    struct field_errors errs = {0};
    run->header_done = true;
    if (import_columns_parse(&errs, rec, &run->cols) != NX_OK) {
        add_field_errors(&filling(run)->errors, rec->line, &errs);
        run->header_failed = true;
    }
    fielderr_clear(&errs);
    return run->header_failed ? NX_ERR_VALIDATION : NX_OK; /* stops the reader */
}

/* A row with other errors names an unknown category with them, as POST
 * /products does (a valid row's category is checked when its batch is
 * applied). */
static void name_unknown_category(struct run *run, const struct import_row *row,
                                  struct field_errors *errs) {
    const struct category_ref *c = &row->category;
    const char *field = c->given ? "category" : row->in.category_id[0] ? "category_id" : NULL;
    const char *key = c->given ? c->text : row->in.category_id;
    PGresult *r = NULL;
    if (field && key[0] && !fielderr_names(errs, field) &&
        categories_get(run->chunks, key, c->given && !c->is_id, &r) == NX_OK && PQntuples(r) == 0)
        fielderr_add(errs, field, "no such category");
    PQclear(r);
}

/* An upload that is no UTF-8 text at all (UTF-16, say) fails the import
 * as a bad header does, its one error on line 1: every row of it would
 * only be said to hold NUL bytes. */
static enum nx_err on_unreadable(struct run *run, const struct record *rec) {
    add_error(&filling(run)->errors, rec->line, NULL, rec->error);
    run->header_failed = true;
    return NX_ERR_VALIDATION; /* stops the reader */
}

static enum nx_err on_record(void *ctx, const struct record *rec) {
    struct run *run = ctx;
    struct field_errors errs = {0};
    struct import_row row;
    if (rec->fatal)
        return on_unreadable(run, rec);
    if (run->csv && !run->header_done)
        return on_header(run, rec);
    if (rec->line < run->first_line)
        return NX_OK; /* applied before a crash */
    run->at_line = rec->line;
    run->at_offset = records_record_offset(run->reader);
    enum nx_err e = run->csv ? import_row_from_csv(&errs, &run->cols, rec, &row)
                             : import_row_from_ndjson(&errs, rec, &row);
    if (e == NX_OK) {
        e = add_row(run, rec->line, &row);
        /* Counted after add_row: a batch it applies first saves the count
         * with a resume line at this row, which a rerun reads again. */
        run->read_rows++;
    } else {
        run->read_rows++;
        name_unknown_category(run, &row, &errs);
        add_field_errors(&filling(run)->errors, rec->line, &errs);
        run->read_failed++;
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
        e = imports_chunk(run->chunks, run->id, seq, &r);
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
    enum nx_err e = imports_chunk_sizes(run->chunks, run->id, &r);
    *skip = run->first_offset;
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
    if (run->first_offset > 0 && run->csv) {
        struct records *header = records_new(RECORD_CSV, ROW_MAX_BYTES, header_only, run);
        e = read_chunks(run, header, 0, 0);
        records_free(header);
        e = e == HEADER_READ ? NX_OK : e;
    }
    run->reader = records_new(run->csv ? RECORD_CSV : RECORD_NDJSON, ROW_MAX_BYTES, on_record, run);
    if (e == NX_OK && run->first_offset > 0) {
        records_resume(run->reader, (long)run->first_line, run->first_offset);
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

/* A CSV upload without even a header row (empty, or blank lines only):
 * it fails as a bad header does, its error on line 1. */
static void no_header(struct run *run) {
    struct field_errors errs = {0};
    fielderr_add(&errs, "", "the upload has no header row: a CSV starts with its column names");
    add_field_errors(&filling(run)->errors, 1, &errs);
    fielderr_clear(&errs);
    run->header_failed = true;
}

static enum nx_err commit_job(struct run *run) {
    enum nx_err e = db_commit(run->db);
    run->appliers[0].in_tx = e != NX_OK;
    return e;
}

/* An atomic import's rows commit with its progress while it still runs,
 * its bump owed with them; then the catalog cache is bumped, and only then
 * is it done: a client that sees it done, then reads, sees its rows. The
 * progress saved while it runs marks the rows committed (start). */
static enum nx_err commit_applied(struct run *run) {
    int64_t owed = 0;
    enum nx_err e = owe_bump(run->db, true, &owed);
    if (e == NX_OK)
        e = commit_job(run);
    if (e == NX_OK)
        bump_after_commit(run->db, true, owed);
    return e;
}

/* Status 'done' or 'failed', in the transaction open or a new one: after
 * commit_applied (again), the progress saved as it is, which checks that
 * this runner still holds the lease. */
static enum nx_err end_import(struct run *run, bool again, const char *status) {
    enum nx_err e = ensure_tx(&run->appliers[0]);
    if (e == NX_OK && again)
        e = save_progress(run, run->db);
    if (e == NX_OK)
        e = imports_finish(run->db, run->id, status);
    if (e == NX_OK)
        e = commit_job(run);
    return e;
}

/* Why the import failed, for its log line (the errors it keeps say it
 * to the client): a bad or missing header's first error, or the rows an
 * atomic import failed. */
static void note_failure(struct run *run) {
    const struct error_list *list = &run->errors;
    run->failed = true;
    if (!run->header_failed) {
        snprintf(run->reason, sizeof run->reason,
                 "atomic, and %lld of its %lld rows failed: nothing applied", run->p.failed,
                 run->p.rows);
        return;
    }
    snprintf(run->reason, sizeof run->reason, "line %lld: %s%s",
             list->count ? (long long)list->items[0].line : 1LL,
             list->count ? list->items[0].message : "a bad header",
             list->count > 1 ? " (and more errors)" : "");
}

/* The end: 'done', or 'failed' (a bad or missing header; with atomic, any
 * error, after the rows were rolled back). */
static enum nx_err finish(struct run *run) {
    if (run->csv && !run->header_done && !run->header_failed)
        no_header(run);
    /* what no batch took: a bad header's errors */
    struct applier *job = &run->appliers[0]; /* on the job's connection */
    take_errors(&run->errors, &filling(run)->errors);
    run->p.rows = run->read_rows;
    run->p.failed = run->read_failed + run->db_failed;
    bool failed = run->header_failed || (run->atomic && run->p.failed > 0);
    bool applied = run->atomic && !failed && run->written > 0;
    enum nx_err e = NX_OK;
    if (failed)
        note_failure(run);
    if (run->atomic && failed && job->in_tx) {
        rollback(job);
        run->p.created = run->p.updated = 0;
    }
    e = ensure_tx(job);
    if (e == NX_OK)
        e = write_errors(run, run->db);
    if (e == NX_OK)
        e = save_progress(run, run->db);
    if (e == NX_OK && applied)
        e = commit_applied(run);
    if (e == NX_OK)
        e = end_import(run, applied, failed ? "failed" : "done");
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

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
 * that stopped, or by another load); on a connection of its own without a
 * statement timeout, as the builds change their session settings. A run
 * that stops meanwhile leaves the rest to the next. took[0] and took[1]:
 * the seconds of the rebuild and of the builds, 0 for what was not due. */
static enum nx_err bulk_leftovers(const struct config *cfg, struct db *db, double took[2]) {
    bool derived = false, indexes = false;
    enum nx_err e = imports_derived_pending(db, &derived);
    took[0] = took[1] = 0;
    if (e == NX_OK)
        e = seed_indexes_pending(db, &indexes);
    if (e != NX_OK || (!derived && !indexes))
        return e;
    struct db *own = db_open(cfg->database_url);
    if (!own)
        return NX_ERR_UNAVAILABLE;
    e = db_exec_sql(own, "SET statement_timeout = 0");
    double start = seconds_now();
    if (e == NX_OK && derived)
        e = rebuild_derived(own);
    double rebuilt = seconds_now();
    if (e == NX_OK && indexes)
        e = seed_indexes_build(own, cfg->database_url, false);
    db_close(own);
    took[0] = rebuilt - start;
    took[1] = seconds_now() - rebuilt;
    return e;
}

/* What the bulk load left, done before the import is marked done. */
static enum nx_err bulk_end(struct run *run, const struct config *cfg) {
    double took[2];
    double start = seconds_now();
    enum nx_err e = bulk_leftovers(cfg, run->db, took);
    if (e == NX_OK && took[0] + took[1] > 0)
        log_info("import.bulk_end", NULL,
                 "import %s: rows applied in %.1f s, derived data rebuilt in %.1f s,"
                 " indexes built in %.1f s",
                 run->id, start - run->started, took[0], took[1]);
    return e;
}

/* Statistics taken again when the import wrote a tenth of the catalog or
 * more: until autovacuum comes (up to a minute), plans made from the old
 * counts misjudge the new rows (facets filtered on an attribute the
 * import brought took the 5 s statement timeout right after a large
 * import). On a connection of its own; a failure is only logged. */
static void analyze_if_changed_much(struct run *run) {
    bool much = false;
    long long written = run->p.created + run->p.updated;
    if (written <= 0 || imports_changed_much(run->db, written, &much) != NX_OK || !much)
        return;
    struct db *db = db_open(run->cfg->database_url);
    enum nx_err e = db ? imports_analyze_catalog(db) : NX_ERR_UNAVAILABLE;
    if (db)
        db_close(db);
    if (e != NX_OK)
        log_warn("import.analyze", NULL, "import %s: the catalog's statistics were not taken",
                 run->id);
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
        /* atomic: an earlier try's rows committed with its progress (the
         * import still running: commit_applied), and the attempt only
         * ends it; else nothing of an earlier try was kept: start over */
        run->applied = run->atomic && strtoll(PQgetvalue(r, 0, IMC_RESUME_OFFSET), NULL, 10) > 0;
        bool resume = !run->atomic || run->applied;
        run->p.rows = resume ? strtoll(PQgetvalue(r, 0, IMC_ROWS), NULL, 10) : 0;
        run->p.created = resume ? strtoll(PQgetvalue(r, 0, IMC_CREATED), NULL, 10) : 0;
        run->p.updated = resume ? strtoll(PQgetvalue(r, 0, IMC_UPDATED), NULL, 10) : 0;
        run->p.failed = resume ? strtoll(PQgetvalue(r, 0, IMC_FAILED), NULL, 10) : 0;
        run->p.resume_line = resume ? strtoll(PQgetvalue(r, 0, IMC_RESUME_LINE), NULL, 10) : 1;
        run->p.errors = resume ? strtoll(PQgetvalue(r, 0, IMC_ERROR_COUNT), NULL, 10) : 0;
        run->p.resume_offset = resume ? strtoll(PQgetvalue(r, 0, IMC_RESUME_OFFSET), NULL, 10) : 0;
        run->runner.from = strtoll(PQgetvalue(r, 0, IMC_RESUME_LINE), NULL, 10);
        run->read_rows = run->p.rows;
        run->read_failed = run->p.failed;
        run->first_line = run->p.resume_line;
        run->first_offset = run->p.resume_offset;
    }
    PQclear(r);
    return e;
}

/* Read the upload on a connection of its own while the applier applies
 * the batches on the job's, then the last batch. */
static enum nx_err read_and_apply(struct run *run) {
    run->chunks = db_open(run->cfg->database_url);
    enum nx_err e = run->chunks ? appliers_start(run) : NX_ERR_UNAVAILABLE;
    if (e == NX_OK)
        e = read_upload(run);
    if (e == NX_ERR_VALIDATION && run->header_failed)
        e = NX_OK;
    if (e == NX_OK && !run->header_failed)
        e = flush(run);
    enum nx_err applied = appliers_stop(run);
    if (run->chunks)
        db_close(run->chunks);
    return e == NX_OK ? applied : e;
}

static void free_errors(struct error_list *list) {
    clear_errors(list);
    free(list->items);
}

static void free_run(struct run *run) {
    free_errors(&run->errors);
    for (int i = 0; i < APPLIERS; i++)
        free_errors(&run->appliers[i].found);
    for (int i = 0; i < BATCHES; i++) {
        struct batch *b = &run->batches[i];
        free_errors(&b->errors);
        buf_clear(&b->copy);
        buf_clear(&b->copy_variants);
        buf_clear(&b->row_skus);
        buf_clear(&b->sku_rows);
        buf_clear(&b->staged);
        buf_clear(&b->ids);
        strset_free(&b->skus);
    }
    pthread_cond_destroy(&run->changed);
    pthread_mutex_destroy(&run->lock);
    free(run);
}

/* An import that ends failed may have committed batches of a bulk load:
 * their catalog gets what the load left undone, as a finished load's
 * does. A failure is only logged (the next import or seed does it). */
static void end_bulk_leftovers(const struct config *cfg, struct db *db, const char *id) {
    double took[2];
    if (bulk_leftovers(cfg, db, took) != NX_OK)
        log_warn("import.give_up", NULL,
                 "import %s: the indexes or derived data its load left are not built", id);
}

/* The last attempt failed: the import ends failed (its job is dead),
 * rather than running for good. Should this write fail, the statement
 * that makes the job dead ends it (queue_fail), without what follows. */
static void give_up(struct run *run) {
    bool ended = false;
    enum nx_err e = db_begin(run->db);
    if (e == NX_OK)
        e = imports_give_up(run->db, run->id, &run->runner, NX_IMPORT_FAILED_EACH_ATTEMPT, &ended);
    if (e == NX_OK)
        e = db_commit(run->db);
    else
        db_rollback(run->db);
    if (e != NX_OK) {
        log_warn("import.give_up", NULL, "import %s: cannot record its end", run->id);
        return;
    }
    if (!ended)
        return;
    log_warn("import.failed", NULL, "import %s failed: %s", run->id, NX_IMPORT_FAILED_EACH_ATTEMPT);
    end_bulk_leftovers(run->cfg, run->db, run->id);
}

/* A finished import's line: import.done, or import.failed (a warning an
 * operator finds by its event) with why. The import keeps no request id
 * of the upload: its id is what GET /api/v1/imports/{id} shows. */
static void log_end(const struct run *run) {
    if (run->failed)
        log_warn("import.failed", NULL,
                 "import %s failed: %s; %lld rows, %lld created, %lld updated, %lld failed",
                 run->id, run->reason, run->p.rows, run->p.created, run->p.updated, run->p.failed);
    else
        log_info("import.done", NULL,
                 "import %s: %lld rows, %lld created, %lld updated, %lld failed", run->id,
                 run->p.rows, run->p.created, run->p.updated, run->p.failed);
}

/* The reaper's statement that made the job dead ended its import. */
void import_job_dead(const struct config *cfg, struct db *db, const struct job *job) {
    json_t *id = json_object_get(job->payload, "import_id");
    char text[24];
    if (!json_is_integer(id))
        return;
    snprintf(text, sizeof text, "%lld", (long long)json_integer_value(id));
    end_bulk_leftovers(cfg, db, text);
}

bool import_job(const struct config *cfg, struct db *db, const struct job *job, char *err,
                size_t errcap) {
    json_t *id = json_object_get(job->payload, "import_id");
    bool skip = false;
    enum nx_err e = NX_OK;
    if (!json_is_integer(id)) {
        snprintf(err, errcap, "payload has no import_id");
        return false;
    }
    struct run *run = xcalloc(1, sizeof *run);
    pthread_mutex_init(&run->lock, NULL);
    pthread_cond_init(&run->changed, NULL);
    run->db = db;
    run->cfg = cfg;
    run->appliers[0] = (struct applier){.run = run, .db = db};
    run->runner = (struct import_runner){job->id, job->worker, 1};
    run->refund_owed = job->attempts > 1;
    run->started = seconds_now();
    snprintf(run->id, sizeof run->id, "%lld", (long long)json_integer_value(id));
    e = start(run, &skip);
    /* A later attempt (or one that finds an atomic import's rows
     * committed): the one before may have stopped between a commit and
     * its bump. That bump was owed with the commit, and the servers
     * deliver it; this one makes sure before anything is marked done. */
    if (e == NX_OK && (job->attempts > 1 || run->applied))
        catalog_bump_bulk_write(db);
    if (e == NX_OK && run->applied)
        e = end_import(run, true, "done");
    bool apply = !skip && !run->applied;
    if (e == NX_OK && apply && !run->atomic)
        e = bulk_begin(run, cfg);
    if (e == NX_OK && apply && run->atomic)
        e = ensure_tx(&run->appliers[0]);
    if (e == NX_OK && apply) {
        e = read_and_apply(run);
        if (e == NX_OK && !run->atomic)
            e = bulk_end(run, cfg);
        if (e == NX_OK && !run->atomic && !run->bulk) /* committed; a bulk load analyzed */
            analyze_if_changed_much(run);
        if (e == NX_OK)
            e = finish(run);
        if (e == NX_OK && run->atomic) /* its rows commit as it is done */
            analyze_if_changed_much(run);
    }
    rollback(&run->appliers[0]);
    /* A refunded attempt is the first again: its failure is retried. */
    bool last = !run->refunded && job->attempts >= job->max_attempts;
    if (e != NX_OK && last)
        give_up(run);
    if (e != NX_OK)
        snprintf(err, errcap, "import %s stopped (error %d); %s", run->id, (int)e,
                 last ? "it has no attempt left and ends failed"
                      : "it resumes on the next attempt");
    else if (!skip)
        log_end(run);
    free_run(run);
    return e == NX_OK;
}
