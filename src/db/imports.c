/*
 * imports.c -- SQL for product imports.
 *
 * The staging table import_stage is a temporary table of the worker's
 * session, emptied at the start of each batch: the worker COPYs a batch of
 * validated rows into it, takes out the rows the database finds at fault
 * (unknown category, taken sku in create mode, taken slug) and then
 * applies the rest with one statement.
 */
#include "nexus/db/imports.h"

#include "nexus/core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The import's columns, then how many errors it has (the last error's n). */
#define IMPORT_TIMES                                                                               \
    NX_SQL_TIMESTAMP("created_at")                                                                 \
    ", " NX_SQL_TIMESTAMP("started_at") ", " NX_SQL_TIMESTAMP("finished_at")
#define IMPORT_ERROR_COUNT                                                                         \
    "(SELECT coalesce(max(e.n), 0) FROM import_errors e WHERE e.import_id = imports.id)"
#define IMPORT_COLUMNS                                                                             \
    "id, status, format, mode, atomic, rows, created, updated, failed, " IMPORT_TIMES              \
    ", resume_line, " IMPORT_ERROR_COUNT ", resume_offset"

static struct db_stmt SQL_CREATE = {
    "INSERT INTO imports (user_id, format, mode, atomic) VALUES ($1, $2, $3, $4::boolean)"
    " RETURNING id",
    4, 0};
static struct db_stmt SQL_PUT_CHUNK = {
    "INSERT INTO import_chunks (import_id, seq, data) VALUES ($1, $2::integer, $3::bytea)", 3, 0};
static struct db_stmt SQL_QUEUE = {
    "UPDATE imports SET status = 'queued', bytes = $2::bigint WHERE id = $1"
    " AND status = 'uploading' RETURNING " IMPORT_COLUMNS,
    2, 0};
static struct db_stmt SQL_GET = {
    "SELECT " IMPORT_COLUMNS " FROM imports WHERE id = $1 AND status <> 'uploading'", 1, 0};
/* Newest first (or oldest first), after a (created_at, id) position. */
/* A list item's columns: an import's, then its first errors as a JSON
 * array (IMC_FIRST_ERRORS), in one statement for the page. */
#define IMPORT_LIST_COLUMNS                                                                        \
    IMPORT_COLUMNS ", (SELECT coalesce(json_agg(json_build_object('line', e.line, 'field',"        \
                   " e.field, 'message', e.message) ORDER BY e.n), '[]')"                          \
                   " FROM (SELECT line, field, message, n FROM import_errors"                      \
                   " WHERE import_id = imports.id ORDER BY n LIMIT " NX_IMPORT_ERRORS_SHOWN ") e)"
static struct db_stmt SQL_LIST_FIRST[] = {
    {"SELECT " IMPORT_LIST_COLUMNS " FROM imports WHERE status <> 'uploading'"
     " ORDER BY created_at DESC, id DESC LIMIT $1::integer",
     1, 0},
    {"SELECT " IMPORT_LIST_COLUMNS " FROM imports WHERE status <> 'uploading'"
     " ORDER BY created_at, id LIMIT $1::integer",
     1, 0},
};
static struct db_stmt SQL_LIST_AFTER[] = {
    {"SELECT " IMPORT_LIST_COLUMNS " FROM imports WHERE status <> 'uploading'"
     " AND (created_at, id) < ($1::timestamptz, $2::bigint)"
     " ORDER BY created_at DESC, id DESC LIMIT $3::integer",
     3, 0},
    {"SELECT " IMPORT_LIST_COLUMNS " FROM imports WHERE status <> 'uploading'"
     " AND (created_at, id) > ($1::timestamptz, $2::bigint)"
     " ORDER BY created_at, id LIMIT $3::integer",
     3, 0},
};
static struct db_stmt SQL_COUNT = {"SELECT count(*) FROM imports WHERE status <> 'uploading'", 0,
                                   0};
static struct db_stmt SQL_ERRORS = {
    "SELECT line, field, message, n FROM import_errors WHERE import_id = $1 AND n > $2::integer"
    " ORDER BY n LIMIT $3::integer",
    3, 0};
static struct db_stmt SQL_START = {
    "UPDATE imports SET status = 'running', started_at = coalesce(started_at, now())"
    " WHERE id = $1 AND status IN ('queued', 'running') RETURNING " IMPORT_COLUMNS,
    1, 0};
/* The import is at least $2 bytes and no live product exists. */
static struct db_stmt SQL_BULK = {
    "SELECT bytes >= $2::bigint AND NOT EXISTS (SELECT FROM products WHERE deleted_at IS NULL)"
    " FROM imports WHERE id = $1",
    2, 0};
static struct db_stmt SQL_CHUNK = {
    "SELECT data FROM import_chunks WHERE import_id = $1 AND seq = $2::integer", 2, 0};
static struct db_stmt SQL_CHUNK_SIZES = {
    "SELECT octet_length(data) FROM import_chunks WHERE import_id = $1 ORDER BY seq", 1, 0};
/* Only from the line the runner started its batch at, and only while its
 * worker holds the job's lease: a runner that lost it writes nothing. */
static struct db_stmt SQL_PROGRESS = {
    "UPDATE imports SET rows = $2::integer, created = $3::integer, updated = $4::integer,"
    " failed = $5::integer, resume_line = $6::bigint, resume_offset = $10::bigint"
    " WHERE id = $1 AND resume_line = $7::bigint"
    " AND EXISTS (SELECT 1 FROM jobs j WHERE j.id = $8::bigint AND j.locked_by = $9"
    " AND j.state = 'running')",
    10, 0};
static struct db_stmt SQL_ADD_ERROR = {
    "INSERT INTO import_errors (import_id, n, line, field, message)"
    " VALUES ($1, $2::integer, $3::bigint, $4, $5)",
    5, 0};
static struct db_stmt SQL_FINISH = {
    "WITH c AS (DELETE FROM import_chunks WHERE import_id = $1)"
    " UPDATE imports SET status = $2, finished_at = clock_timestamp() WHERE id = $1",
    2, 0};
static struct db_stmt SQL_GIVE_UP = {
    "WITH" NX_SQL_IMPORTS_END_FAILED("SELECT $1::bigint WHERE EXISTS (SELECT 1 FROM jobs j"
                                     " WHERE j.id = $3::bigint AND j.locked_by = $4"
                                     " AND j.state = 'running')",
                                     "$2") " SELECT id FROM i",
    4, 0};
static struct db_stmt SQL_PURGE_ABANDONED = {
    "DELETE FROM imports WHERE status = 'uploading' AND created_at < now() - interval '1 hour'", 0,
    0};

/* The errors of imports finished longer ago than $1 seconds, then those
 * imports once their errors are gone: an import may hold millions of
 * errors, deleted a batch at a time rather than in one long statement. */
#define FINISHED_BEFORE                                                                            \
    " status IN ('done', 'failed') AND finished_at < now() - make_interval(secs => $1::integer)"
static struct db_stmt SQL_PURGE_FINISHED_ERRORS = {
    "DELETE FROM import_errors WHERE (import_id, n) IN (SELECT e.import_id, e.n"
    " FROM imports i JOIN import_errors e ON e.import_id = i.id WHERE" FINISHED_BEFORE
    " LIMIT $2::integer)",
    2, 0};
static struct db_stmt SQL_PURGE_FINISHED = {
    "DELETE FROM imports WHERE id IN (SELECT id FROM imports i WHERE" FINISHED_BEFORE
    " AND NOT EXISTS (SELECT 1 FROM import_errors e WHERE e.import_id = i.id)"
    " ORDER BY finished_at LIMIT $2::integer)",
    2, 0};

/* A row's product goes to import_stage; its variants (a row without
 * "variants" has one: its sku, price and stock, with options and is_active
 * NULL, which leaves them as they are) to import_stage_variants, numbered
 * from 1 in the row's order. product_id is the live product the row's
 * SKUs name (resolved by the reject steps); created marks a product the
 * merge inserted; images is NULL for a CSV row (no column for them: an
 * update keeps the product's, a new product has none). import_parked holds
 * the variants a merge soft-deleted for a moment to change their options
 * (see SQL_MERGE_PARK). */
static const char SQL_STAGE_CREATE[] =
    "CREATE TEMP TABLE IF NOT EXISTS import_stage ("
    " line bigint NOT NULL, sku text NOT NULL, name text NOT NULL, slug text NOT NULL,"
    " slug_given boolean NOT NULL, description text NOT NULL, price_cents bigint NOT NULL,"
    " currency text NOT NULL, stock integer NOT NULL, cat_field text, cat_id bigint,"
    " cat_slug text, is_active boolean NOT NULL, attributes jsonb NOT NULL, images jsonb,"
    " explicit boolean NOT NULL, product_id bigint, created boolean NOT NULL DEFAULT false,"
    " solo_id bigint, rewritten boolean NOT NULL DEFAULT false);"
    " CREATE TEMP TABLE IF NOT EXISTS import_stage_variants ("
    " line bigint NOT NULL, pos integer NOT NULL, sku text NOT NULL, price_cents bigint NOT NULL,"
    " stock integer NOT NULL, options jsonb, is_active boolean);"
    " CREATE TEMP TABLE IF NOT EXISTS import_parked (id bigint NOT NULL);"
    " CREATE TEMP TABLE IF NOT EXISTS import_deferred (LIKE import_stage);"
    " CREATE TEMP TABLE IF NOT EXISTS import_deferred_variants (LIKE import_stage_variants)";
static const char SQL_STAGE_EMPTY[] = "TRUNCATE import_stage, import_stage_variants, import_parked,"
                                      " import_deferred, import_deferred_variants";
/* Moves the rows of d (their lines) from the stage to the next merge of
 * the same transaction, with their variants. */
#define DEFER_LINES(d)                                                                             \
    " m AS (DELETE FROM import_stage s USING " d " WHERE s.line = " d ".line RETURNING s.*),"      \
    " mv AS (DELETE FROM import_stage_variants v USING " d " WHERE v.line = " d ".line"            \
    " RETURNING v.*), k AS (INSERT INTO import_deferred SELECT * FROM m),"                         \
    " kv AS (INSERT INTO import_deferred_variants SELECT * FROM mv)"

/* A batch's rows have SKUs of their own (the runner starts another batch
 * at a row that repeats one), but two rows may still name one product by
 * different SKUs. Two such rows without variants each write their own
 * variant, in one merge; but a row with variants replaces the product's
 * set, which the rows after it must see (a SKU it drops is free for them:
 * they then make a product of their own). So a row whose product an
 * earlier row of the stage names, when either has variants, waits for
 * the next merge of the same transaction (import_stage_take_deferred).
 * The count includes the rows the reject steps deferred, as this
 * statement starts. */
static struct db_stmt SQL_STAGE_DEFER = {
    "WITH c AS (SELECT s.line FROM import_stage s WHERE s.product_id IS NOT NULL AND EXISTS"
    " (SELECT 1 FROM import_stage e WHERE e.product_id = s.product_id AND e.line < s.line"
    " AND (e.explicit OR s.explicit)))," DEFER_LINES(
        "c") " SELECT (SELECT count(*) FROM m) + (SELECT count(*) FROM import_deferred)",
    0, 0};
static const char SQL_STAGE_TAKE_DEFERRED[] =
    "TRUNCATE import_stage, import_stage_variants, import_parked;"
    " INSERT INTO import_stage SELECT * FROM import_deferred;"
    " UPDATE import_stage SET product_id = NULL, created = false, solo_id = NULL,"
    " rewritten = false;"
    " INSERT INTO import_stage_variants SELECT * FROM import_deferred_variants;"
    " TRUNCATE import_deferred, import_deferred_variants";
static const char SQL_STAGE_COPY[] =
    "COPY import_stage (line, sku, name, slug_given, description, price_cents, currency, stock,"
    " cat_field, cat_id, cat_slug, is_active, attributes, images, explicit, slug) FROM STDIN";
static const char SQL_STAGE_COPY_VARIANTS[] =
    "COPY import_stage_variants (line, pos, sku, price_cents, stock, options, is_active)"
    " FROM STDIN";
/* Each step takes its rows out of the stage and names what was wrong
 * (the field and message the same body on POST /products would get). */
/* A sku or options twice in a row's variants: named at the variant the
 * endpoint's inserts would stop at (the first repeat, by position; its
 * sku's index is checked before its options'). Only a row with variants
 * has more than one. */
static struct db_stmt SQL_STAGE_DUPLICATES = {
    "WITH d AS (SELECT line, (array_agg(pos ORDER BY pos))[2] AS pos, 0 AS kind, 'sku' AS name,"
    " 'already exists' AS message FROM import_stage_variants GROUP BY line, sku"
    " HAVING count(*) > 1"
    " UNION ALL SELECT line, (array_agg(pos ORDER BY pos))[2], 1, 'options',"
    " 'another variant of this product has the same options'"
    " FROM import_stage_variants WHERE options IS NOT NULL"
    " GROUP BY line, nexus_option_key(options) HAVING count(*) > 1),"
    " f AS (SELECT DISTINCT ON (line) line, format('variants[%s].%s', pos - 1, name) AS field,"
    " message FROM d ORDER BY line, pos, kind)"
    " DELETE FROM import_stage s USING f WHERE s.line = f.line RETURNING s.line, f.field, "
    "f.message",
    0, 0};
static struct db_stmt SQL_STAGE_CATEGORIES = {
    "WITH r AS (UPDATE import_stage s SET cat_id = c.id FROM categories c"
    " WHERE s.cat_slug IS NOT NULL AND c.slug = s.cat_slug RETURNING s.line)"
    " DELETE FROM import_stage s WHERE s.cat_field IS NOT NULL AND NOT EXISTS"
    " (SELECT 1 FROM categories c WHERE c.id = s.cat_id) AND s.line NOT IN (SELECT line FROM r)"
    " RETURNING s.line, s.cat_field, 'no such category'",
    0, 0};
/* A row's SKUs name the live product that has a live variant with one of
 * them: the product the row updates. SKUs of two products: a row error,
 * unless an earlier row with variants names one of them, which may drop
 * the SKU: the row waits for the next merge, on what that one left. Each
 * sku probes the index of live skus (at most one row each): as a plain
 * join, the planner merged the sorted stage with that whole index, which
 * in a load of new skus (all after the existing ones) walked every
 * variant of the catalog in every batch. */
static struct db_stmt SQL_STAGE_OWNERS = {
    "WITH p AS (SELECT DISTINCT sv.line, v.product_id AS pid"
    " FROM import_stage_variants sv CROSS JOIN LATERAL (SELECT lv.product_id"
    " FROM product_variants lv WHERE lv.sku = sv.sku AND lv.deleted_at IS NULL LIMIT 1) v),"
    " o AS (SELECT line, min(pid) AS pid, count(*) AS n FROM p GROUP BY line),"
    " d AS (SELECT o.line FROM o WHERE o.n > 1 AND EXISTS (SELECT 1 FROM p mine JOIN p theirs"
    " ON theirs.pid = mine.pid AND theirs.line < mine.line JOIN import_stage e"
    " ON e.line = theirs.line AND e.explicit WHERE mine.line = o.line)),"
    " u AS (UPDATE import_stage s SET product_id = o.pid FROM o WHERE o.line = s.line AND o.n = "
    "1)," DEFER_LINES(
        "d") " DELETE FROM import_stage s USING o WHERE o.line = s.line AND o.n > 1"
             " AND NOT EXISTS (SELECT 1 FROM d WHERE d.line = s.line)"
             " RETURNING s.line, 'variants', 'holds the SKUs of more than one product'",
    0, 0};
/* Create mode: a row holding any live sku, whichever products hold them,
 * named as the endpoint names it: the row's sku, or the first of its
 * variants whose sku a live variant holds. */
static struct db_stmt SQL_STAGE_TAKEN_SKUS = {
    "DELETE FROM import_stage s WHERE EXISTS (SELECT 1 FROM import_stage_variants sv"
    " WHERE sv.line = s.line AND EXISTS (SELECT 1 FROM product_variants v"
    " WHERE v.sku = sv.sku AND v.deleted_at IS NULL))"
    " RETURNING s.line, CASE WHEN s.explicit"
    " THEN (SELECT format('variants[%s].sku', min(sv.pos) - 1)"
    " FROM import_stage_variants sv WHERE sv.line = s.line AND EXISTS (SELECT 1"
    " FROM product_variants v WHERE v.sku = sv.sku AND v.deleted_at IS NULL)) ELSE 'sku' END,"
    " 'already exists'",
    0, 0};
/* A slug that goes to a product (an explicit one, or any of a new
 * product) must be neither another live product's nor an earlier row's
 * for another product. One that a product holds which an earlier row
 * rewrites (and may move off it) waits for the next merge. An earlier row
 * claims the slug only if it can have it: not one refused because
 * another product holds it (a row giving its own product's slug after two
 * others asked for it in vain keeps it). */
static struct db_stmt SQL_STAGE_TAKEN_SLUGS = {
    "WITH h AS (SELECT s.line, s.slug, s.product_id, (SELECT p.id FROM products p"
    " WHERE p.slug = s.slug AND p.deleted_at IS NULL AND p.id IS DISTINCT FROM s.product_id)"
    " AS holder FROM import_stage s WHERE s.slug_given OR s.product_id IS NULL),"
    " freed AS (SELECT h.line FROM h WHERE h.holder IS NOT NULL AND EXISTS (SELECT 1"
    " FROM import_stage e WHERE e.product_id = h.holder AND e.line < h.line)),"
    " w AS (SELECT h.line, h.holder, EXISTS (SELECT 1 FROM h e WHERE e.slug = h.slug"
    " AND e.line < h.line AND (e.product_id IS NULL OR h.product_id IS NULL"
    " OR e.product_id <> h.product_id) AND (e.holder IS NULL"
    " OR EXISTS (SELECT 1 FROM freed f WHERE f.line = e.line))) AS earlier FROM h),"
    " d AS (SELECT w.line FROM w JOIN freed f ON f.line = w.line WHERE NOT w.earlier)," DEFER_LINES(
        "d") " DELETE FROM import_stage s USING w WHERE s.line = w.line"
             " AND (w.holder IS NOT NULL OR w.earlier)"
             " AND NOT EXISTS (SELECT 1 FROM d WHERE d.line = w.line)"
             " RETURNING s.line, 'slug', 'already exists'",
    0, 0};

/* What the rows leave as their products' stock, the sum over active
 * variants: an integer column, whose sum nexus_product_derive (and the
 * insert of new products) casts to integer, failing the whole batch past
 * its range. A row with variants replaces the product's with its own (a
 * new product's are all it has): its own sum decides. Rows without
 * variants of an existing product write one variant's stock each, beside
 * the product's others, in file order: each row's total is what the
 * product holds after it and the rows before it. Each call takes out, per
 * product, the first row past the range (the rows before it stand): call
 * it again until it takes none, as applying them one by one would. */
static struct db_stmt SQL_STAGE_STOCK_TOTALS = {
    "WITH e AS (SELECT s.line,"
    " sum(sv.stock) FILTER (WHERE coalesce(sv.is_active, true)) AS total"
    " FROM import_stage s JOIN import_stage_variants sv ON sv.line = s.line WHERE s.explicit"
    " GROUP BY s.line),"
    " w AS (SELECT s.line, s.product_id, sv.sku, sv.stock FROM import_stage s"
    " JOIN import_stage_variants sv ON sv.line = s.line"
    " WHERE NOT s.explicit AND s.product_id IS NOT NULL AND NOT EXISTS (SELECT 1"
    " FROM import_stage x WHERE x.explicit AND x.product_id = s.product_id)),"
    " base AS (SELECT v.product_id, coalesce(sum(v.stock) FILTER (WHERE v.is_active), 0) AS total"
    " FROM product_variants v WHERE v.product_id IN (SELECT product_id FROM w)"
    " AND v.deleted_at IS NULL GROUP BY v.product_id),"
    " n AS (SELECT w.line, w.product_id, base.total + sum(CASE WHEN v.is_active"
    " THEN w.stock - v.stock ELSE 0 END) OVER (PARTITION BY w.product_id ORDER BY w.line)"
    " AS total FROM w JOIN base ON base.product_id = w.product_id JOIN product_variants v"
    " ON v.product_id = w.product_id AND v.sku = w.sku AND v.deleted_at IS NULL),"
    " o AS (SELECT line FROM e WHERE total > 2147483647"
    " UNION ALL SELECT min(line) FROM n WHERE total > 2147483647 GROUP BY product_id)"
    " DELETE FROM import_stage s USING o WHERE s.line = o.line"
    " RETURNING s.line, CASE WHEN s.explicit THEN 'variants' ELSE 'stock' END,"
    " 'the product''s stock (the sum over its active variants) would pass 2147483647'",
    0, 0};

/* A row that takes a variant's stock from at least the threshold ($1) to
 * below it alerts staff, as the same write through the API would: one
 * low_stock_alert job (of $2 attempts) per variant, in the batch's
 * transaction. Before the variants are written, while they hold the stock
 * they had. The job is keyed by the import ($3) and the row's line: an
 * atomic import's batches share one transaction (and one now()), and two
 * of its rows may each take one variant low. */
static struct db_stmt SQL_MERGE_LOW_STOCK = {
    "INSERT INTO jobs (kind, payload, idempotency_key, max_attempts)"
    " SELECT 'low_stock_alert', jsonb_build_object('product_id', v.product_id, 'variant_id', v.id,"
    " 'sku', v.sku, 'name', s.name, 'stock', sv.stock, 'threshold', $1::integer),"
    " format('low_stock:%s:%s:import:%s:%s', v.product_id, v.id, $3::bigint, s.line),"
    " $2::integer"
    " FROM import_stage s JOIN import_stage_variants sv ON sv.line = s.line"
    " JOIN product_variants v ON v.product_id = s.product_id AND v.sku = sv.sku"
    " AND v.deleted_at IS NULL"
    " WHERE s.product_id IS NOT NULL AND v.stock >= $1::integer AND sv.stock < $1::integer"
    " ON CONFLICT (idempotency_key) DO NOTHING",
    3, 0};

/* The merge, one statement per step, in this order. */
static struct db_stmt SQL_MERGE_ORPHANS = {"DELETE FROM import_stage_variants sv WHERE NOT EXISTS"
                                           " (SELECT 1 FROM import_stage s WHERE s.line = sv.line)",
                                           0, 0};
/* The products that rows of the stage name whose variants the rows would
 * change: a row's variant (by sku) whose price or stock differs (with
 * variants also its options, is_active or position) or that it adds, or
 * a live variant that a row with variants does not list. */
#define STAGE_VARIANTS_CHANGE                                                                      \
    "SELECT st.product_id FROM import_stage st JOIN import_stage_variants sv ON sv.line = st.line" \
    " WHERE st.product_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM product_variants v"            \
    " WHERE v.product_id = st.product_id AND v.sku = sv.sku AND v.deleted_at IS NULL"              \
    " AND (v.price_cents, v.stock) = (sv.price_cents, sv.stock) AND (NOT st.explicit"              \
    " OR (v.options::text, v.is_active, v.position) = (sv.options::text, sv.is_active, sv.pos)))"  \
    " UNION SELECT st.product_id FROM import_stage st JOIN product_variants v"                     \
    " ON v.product_id = st.product_id AND v.deleted_at IS NULL WHERE st.explicit"                  \
    " AND NOT EXISTS (SELECT 1 FROM import_stage_variants sv WHERE sv.line = st.line"              \
    " AND sv.sku = v.sku)"
/* Rows without variants that name one product by different SKUs merge
 * together: its fields are the last row's (each row replaces them, as PUT
 * does), its slug the last one a row gave. A product that already holds
 * all its rows would write (its own fields, as stored: jsonb compared as
 * its text, so that 1.50 is not taken for 1.5, and its variants) is not
 * written: its version, updated_at and ETag stay, and a batch of such
 * rows writes nothing (no cache bump). The rows count all the same, per
 * row, as the import's `updated` does; the value is how many products
 * were written, each marked rewritten in the stage. */
static struct db_stmt SQL_MERGE_PRODUCTS = {
    "WITH g AS (SELECT DISTINCT ON (product_id) product_id, slug FROM import_stage"
    " WHERE product_id IS NOT NULL AND slug_given ORDER BY product_id, line DESC),"
    " s AS (SELECT DISTINCT ON (st.product_id) st.*, g.slug AS given_slug FROM import_stage st"
    " LEFT JOIN g ON g.product_id = st.product_id WHERE st.product_id IS NOT NULL"
    " ORDER BY st.product_id, st.line DESC), c AS (" STAGE_VARIANTS_CHANGE "),"
    " u AS (UPDATE products p SET name = s.name, slug = coalesce(s.given_slug, p.slug),"
    " description = s.description, currency = s.currency, category_id = s.cat_id,"
    " is_active = s.is_active, attributes = s.attributes, images = coalesce(s.images, p.images),"
    " version = p.version + 1 FROM s WHERE p.id = s.product_id"
    " AND (s.product_id IN (SELECT product_id FROM c) OR (p.name, p.slug, p.description,"
    " p.currency, p.category_id, p.is_active, p.attributes::text, p.images::text)"
    " IS DISTINCT FROM (s.name, coalesce(s.given_slug, p.slug), s.description, s.currency,"
    " s.cat_id, s.is_active, s.attributes::text, coalesce(s.images, p.images)::text))"
    " RETURNING p.id),"
    " m AS (UPDATE import_stage st SET rewritten = true FROM u WHERE st.product_id = u.id)"
    " SELECT (SELECT count(*) FROM u) FROM import_stage WHERE product_id IS NOT NULL",
    0, 0};
/* A row without variants writes the price and stock of the variant its
 * sku names; the product's other variants stay as they are. */
static struct db_stmt SQL_MERGE_OWN_VARIANT = {
    "UPDATE product_variants v SET price_cents = sv.price_cents, stock = sv.stock"
    " FROM import_stage s JOIN import_stage_variants sv ON sv.line = s.line"
    " WHERE NOT s.explicit AND v.product_id = s.product_id AND v.sku = sv.sku"
    " AND v.deleted_at IS NULL AND (v.price_cents, v.stock) <> (sv.price_cents, sv.stock)",
    0, 0};
/* A row with variants replaces the product's: a live variant whose sku
 * the row does not have is soft-deleted; one whose options change is
 * soft-deleted for a moment (parked), so that no two live variants hold
 * the same options while they are rewritten one by one. */
static struct db_stmt SQL_MERGE_PARK = {
    "WITH d AS (UPDATE product_variants v SET deleted_at = now() FROM import_stage s"
    " WHERE s.explicit AND v.product_id = s.product_id AND v.deleted_at IS NULL"
    " AND NOT EXISTS (SELECT 1 FROM import_stage_variants sv WHERE sv.line = s.line"
    " AND sv.sku = v.sku AND nexus_option_key(sv.options) = v.options_key)"
    " RETURNING v.id, v.sku, s.line)"
    " INSERT INTO import_parked SELECT d.id FROM d WHERE EXISTS"
    " (SELECT 1 FROM import_stage_variants sv WHERE sv.line = d.line AND sv.sku = d.sku)",
    0, 0};
static struct db_stmt SQL_MERGE_VARIANTS = {
    "UPDATE product_variants v SET deleted_at = NULL, price_cents = sv.price_cents,"
    " stock = sv.stock, options = sv.options, is_active = sv.is_active, position = sv.pos"
    " FROM import_stage s JOIN import_stage_variants sv ON sv.line = s.line"
    " WHERE s.explicit AND v.product_id = s.product_id AND v.sku = sv.sku"
    " AND ((v.deleted_at IS NULL AND (v.price_cents, v.stock, v.options::text, v.is_active,"
    " v.position) <> (sv.price_cents, sv.stock, sv.options::text, sv.is_active, sv.pos))"
    " OR v.id IN (SELECT id FROM import_parked))",
    0, 0};
/* Variants of existing products the row adds; then new products, which
 * bring their variants themselves (no default one from the trigger: the
 * setting lasts to the end of the batch's transaction, whose products
 * all come this way). */
static struct db_stmt SQL_MERGE_ADD_VARIANTS = {
    "INSERT INTO product_variants (product_id, sku, price_cents, stock, options, is_active,"
    " position) SELECT s.product_id, sv.sku, sv.price_cents, sv.stock, sv.options,"
    " sv.is_active, sv.pos FROM import_stage s JOIN import_stage_variants sv ON sv.line = s.line"
    " WHERE s.explicit AND s.product_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
    " product_variants v WHERE v.product_id = s.product_id AND v.sku = sv.sku"
    " AND v.deleted_at IS NULL) ORDER BY s.line, sv.pos",
    0, 0};
/* A new product is inserted with what its variants derive (computed from
 * the stage as nexus_product_derive computes it from the table) and with
 * their option terms (as nexus_facet_option_ids computes them: one per
 * value however spelled, of active variants, and of those in stock), so
 * that it is written once: a rewrite would add every index entry again,
 * and count the product's facets again (the variants' trigger rewrites
 * only the products whose terms differ). */
#define STAGE_ACTIVE "coalesce(sv.is_active, true)"
/* The new products' attribute terms, as nexus_facet_attribute_ids makes
 * them, from the terms SQL_MERGE_ATTRIBUTE_TERMS made sure of: one join
 * for the batch (a subquery per product would read the terms per row). */
#define STAGE_ATTRIBUTE_TERMS                                                                      \
    "SELECT s.line, array_agg(ft.id ORDER BY ft.id) AS ids FROM import_stage s"                    \
    " CROSS JOIN LATERAL jsonb_each_text(s.attributes) AS ea JOIN facet_terms ft ON ft.kind = 1"   \
    " AND ft.name = ea.key AND ft.value = ea.value WHERE s.product_id IS NULL GROUP BY s.line"
/* The option values of the new products' active variants, per product
 * and for all of them or those in stock: one spelling per value however
 * spelled, and one per name with the empty value, as
 * nexus_facet_option_ids groups them (migration 0036). */
#define STAGE_OPTION_VALUES                                                                        \
    "SELECT sv.line, f.in_stock, min(e.key) AS name,"                                              \
    " CASE WHEN n.name_only THEN '' ELSE min(e.value) END AS value"                                \
    " FROM import_stage_variants sv JOIN import_stage s ON s.line = sv.line"                       \
    " CROSS JOIN LATERAL jsonb_each_text(coalesce(sv.options, '{}')) AS e"                         \
    " CROSS JOIN (VALUES (false), (true)) AS f (in_stock)"                                         \
    " CROSS JOIN (VALUES (false), (true)) AS n (name_only)"                                        \
    " WHERE s.product_id IS NULL AND " STAGE_ACTIVE " AND e.value IS NOT NULL"                     \
    " AND (sv.stock > 0 OR NOT f.in_stock)"                                                        \
    " GROUP BY sv.line, f.in_stock, lower(e.key), n.name_only,"                                    \
    " CASE WHEN n.name_only THEN '' ELSE lower(e.value) END"
/* The option terms of each new product: all of them, and those of
 * variants in stock. */
#define STAGE_NEW_OPTION_TERMS                                                                     \
    "SELECT g.line,"                                                                               \
    " coalesce(array_agg(ft.id ORDER BY ft.id) FILTER (WHERE NOT g.in_stock), '{}') AS options,"   \
    " coalesce(array_agg(ft.id ORDER BY ft.id) FILTER (WHERE g.in_stock), '{}') AS in_stock"       \
    " FROM g JOIN facet_terms ft ON ft.kind = 2 AND ft.name = g.name AND ft.value = g.value"       \
    " GROUP BY g.line"
/* The options summary of each new product with variants, as
 * nexus_options_of computes it from their options in position order, for
 * the whole batch at once (a call per product cost more than the rest of
 * the products' INSERT): each name spelled as its first variant spells
 * it, sorted case-insensitively; each value in variant order, a value
 * repeated in another case counted once. */
#define STAGE_OPTION_PAIRS                                                                         \
    "SELECT sv.line, sv.pos, e.key AS k, e.value AS v FROM import_stage_variants sv"               \
    " JOIN import_stage s ON s.line = sv.line"                                                     \
    " CROSS JOIN LATERAL jsonb_each_text(coalesce(sv.options, '{}')) AS e"                         \
    " WHERE s.explicit AND s.product_id IS NULL"
#define STAGE_OPTION_NAMES                                                                         \
    "SELECT DISTINCT ON (line, lower(k)) line, lower(k) AS lk, k FROM o"                           \
    " ORDER BY line, lower(k), pos"
#define STAGE_OPTION_NAME_VALUES                                                                   \
    "SELECT line, lk, jsonb_agg(v ORDER BY pos) AS vals FROM (SELECT DISTINCT ON"                  \
    " (line, lower(k), lower(v)) line, lower(k) AS lk, v, pos FROM o"                              \
    " ORDER BY line, lower(k), lower(v), pos) first_spellings GROUP BY line, lk"
#define STAGE_NEW_OPTIONS                                                                          \
    "SELECT nm.line, jsonb_agg(jsonb_build_object('name', nm.k, 'values', nv.vals)"                \
    " ORDER BY nm.lk, nm.k) AS options FROM nm JOIN nv ON nv.line = nm.line AND nv.lk = nm.lk"     \
    " GROUP BY nm.line"
/* What a new product's variants derive, as nexus_product_derive does. */
#define STAGE_NEW_DERIVED                                                                          \
    "SELECT sv.line, min(sv.price_cents) FILTER (WHERE " STAGE_ACTIVE ") AS price_min,"            \
    " max(sv.price_cents) FILTER (WHERE " STAGE_ACTIVE ") AS price_max,"                           \
    " sum(sv.stock) FILTER (WHERE " STAGE_ACTIVE ")::integer AS stock,"                            \
    " count(*)::integer AS live,"                                                                  \
    " count(*) FILTER (WHERE " STAGE_ACTIVE ")::integer AS active"                                 \
    " FROM import_stage_variants sv JOIN import_stage s ON s.line = sv.line"                       \
    " WHERE s.explicit AND s.product_id IS NULL GROUP BY sv.line"
/* The one variant of each new product that has one: the product holds
 * its columns (migration 0028), its id taken with the product's row. */
#define STAGE_NEW_SOLO                                                                             \
    "SELECT sv.line, min(sv.stock) AS stock, min(coalesce(sv.options, '{}')::text)::jsonb"         \
    " AS options, bool_and(" STAGE_ACTIVE ") AS active, min(sv.pos) AS pos"                        \
    " FROM import_stage_variants sv JOIN import_stage s ON s.line = sv.line"                       \
    " WHERE s.product_id IS NULL GROUP BY sv.line HAVING count(*) = 1"
#define STAGE_NEW_PRODUCTS_INSERT                                                                  \
    "INSERT INTO products (id, sku, name, slug, description, price_cents, price_max_cents,"        \
    " currency, stock, category_id, is_active, attributes, images, variant_count,"                 \
    " variant_active_count, variant_options, facet_options, facet_options_in_stock,"               \
    " facet_attributes, solo_variant_id, solo_stock, solo_options, solo_is_active,"                \
    " solo_position, solo_created_at, solo_updated_at) OVERRIDING SYSTEM VALUE"                    \
    " SELECT coalesce(($1::bigint[])[row_number() OVER (ORDER BY s.line)],"                        \
    " nextval(pg_get_serial_sequence('products', 'id'))), s.sku, s.name, s.slug, s.description,"   \
    " coalesce(d.price_min, s.price_cents), coalesce(d.price_max, s.price_cents), s.currency,"     \
    " CASE WHEN s.explicit THEN coalesce(d.stock, 0) ELSE s.stock END, s.cat_id, s.is_active,"     \
    " s.attributes, coalesce(s.images, '[]'), coalesce(d.live, 1), coalesce(d.active, 1),"         \
    " coalesce(op.options, '[]'), coalesce(t.options, '{}'), coalesce(t.in_stock, '{}'),"          \
    " coalesce(a.ids, '{}'), CASE WHEN so.line IS NOT NULL"                                        \
    " THEN nextval(pg_get_serial_sequence('product_variants', 'id')) END, so.stock, so.options,"   \
    " so.active, so.pos, CASE WHEN so.line IS NOT NULL THEN now() END,"                            \
    " CASE WHEN so.line IS NOT NULL THEN now() END"                                                \
    " FROM import_stage s LEFT JOIN d ON d.line = s.line LEFT JOIN t ON t.line = s.line"           \
    " LEFT JOIN op ON op.line = s.line LEFT JOIN so ON so.line = s.line"                           \
    " LEFT JOIN a ON a.line = s.line, x"                                                           \
    " WHERE s.product_id IS NULL ORDER BY s.line RETURNING id, sku, solo_variant_id"
static struct db_stmt SQL_MERGE_NEW_PRODUCTS = {
    "WITH x AS (SELECT set_config('nexus.explicit_variants', 'on', true)),"
    " g AS (" STAGE_OPTION_VALUES "), a AS (" STAGE_ATTRIBUTE_TERMS "),"
    " t AS (" STAGE_NEW_OPTION_TERMS "), o AS (" STAGE_OPTION_PAIRS "),"
    " nm AS (" STAGE_OPTION_NAMES "), nv AS (" STAGE_OPTION_NAME_VALUES "),"
    " op AS (" STAGE_NEW_OPTIONS "), d AS (" STAGE_NEW_DERIVED "), so AS (" STAGE_NEW_SOLO "),"
    " ins AS (" STAGE_NEW_PRODUCTS_INSERT ")"
    " UPDATE import_stage s SET product_id = ins.id, created = true,"
    " solo_id = ins.solo_variant_id FROM ins"
    " WHERE ins.sku = s.sku AND s.product_id IS NULL",
    1, 0};
static struct db_stmt SQL_TAKE_PRODUCT_IDS = {
    "SELECT array_agg(id ORDER BY id)::text FROM"
    " (SELECT nextval(pg_get_serial_sequence('products', 'id')) AS id"
    " FROM generate_series(1, $1::integer)) taken",
    1, 0};
/* The attribute and option terms of the batch's new products, added
 * once for the batch (a statement of its own: the products' INSERT reads
 * them), so that each product is inserted with its terms found by a join
 * (a bulk load's products are not given their attribute terms row by row
 * by their trigger, migration 0020). */
static struct db_stmt SQL_MERGE_ATTRIBUTE_TERMS = {
    "SELECT nexus_facet_term_ids(1::smallint, array_agg(d.k ORDER BY d.k, d.v),"
    " array_agg(d.v ORDER BY d.k, d.v)) FROM (SELECT DISTINCT e.key AS k, e.value AS v"
    " FROM import_stage s, jsonb_each_text(s.attributes) AS e"
    " WHERE s.product_id IS NULL AND e.value IS NOT NULL) d"
    " UNION ALL SELECT nexus_facet_term_ids(2::smallint, array_agg(d.name ORDER BY d.name,"
    " d.value), array_agg(d.value ORDER BY d.name, d.value))"
    " FROM (SELECT DISTINCT name, value FROM (" STAGE_OPTION_VALUES ") g) d",
    0, 0};
/* In a bulk load, the new products' numeric attributes, in one statement
 * (their trigger steps aside, migration 0020; otherwise it wrote them). */
static struct db_stmt SQL_MERGE_NEW_NUMBERS = {
    "INSERT INTO product_attribute_numbers (product_id, key, value)"
    " SELECT s.product_id, e.key, (e.value #>> '{}')::numeric"
    " FROM import_stage s, jsonb_each(s.attributes) AS e"
    " WHERE s.created AND jsonb_typeof(e.value) = 'number' AND nexus_bulk_load()",
    0, 0};
/* The new products' variants; as the products already hold their option
 * terms, the variants' trigger is told not to compute them again
 * (nexus.syncing, migration 0013), and told so only for this statement. */
static struct db_stmt SQL_MERGE_NEW_VARIANTS = {
    "WITH x AS (SELECT set_config('nexus.syncing', 'on', true))"
    " INSERT INTO product_variants (id, product_id, sku, price_cents, stock, options, is_active,"
    " position) OVERRIDING SYSTEM VALUE SELECT coalesce(s.solo_id,"
    " nextval(pg_get_serial_sequence('product_variants', 'id'))), s.product_id, sv.sku,"
    " sv.price_cents, sv.stock,"
    " coalesce(sv.options, '{}'), coalesce(sv.is_active, true), sv.pos"
    " FROM import_stage s JOIN import_stage_variants sv ON sv.line = s.line, x"
    " WHERE s.created ORDER BY s.line, sv.pos",
    0, 0};
static struct db_stmt SQL_MERGE_SYNCED = {"SELECT set_config('nexus.syncing', 'off', true)", 0, 0};
/* A new product already holds what its variants derive; every other
 * product the batch rewrote derives again, once however many of its rows
 * the batch holds (one left as it was kept its variants as they were). */
static struct db_stmt SQL_MERGE_DERIVE = {
    "SELECT nexus_product_derive(d.product_id) FROM (SELECT DISTINCT product_id FROM import_stage"
    " WHERE rewritten ORDER BY 1) d",
    0, 0};

enum nx_err imports_create(struct db *db, const char *user_id, const char *format, const char *mode,
                           const char *atomic, char id[24]) {
    PGresult *r = NULL;
    const char *params[] = {user_id, format, mode, atomic};
    enum nx_err e = db_exec(db, &SQL_CREATE, params, &r);
    if (e == NX_OK)
        snprintf(id, 24, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return e;
}

enum nx_err imports_put_chunk(struct db *db, const char *id, int seq, const char *hex) {
    char n[16];
    snprintf(n, sizeof n, "%d", seq);
    const char *params[] = {id, n, hex};
    return db_exec(db, &SQL_PUT_CHUNK, params, NULL);
}

enum nx_err imports_queue(struct db *db, const char *id, const char *bytes, PGresult **out) {
    const char *params[] = {id, bytes};
    return db_exec(db, &SQL_QUEUE, params, out);
}

enum nx_err imports_get(struct db *db, const char *id, PGresult **out) {
    const char *params[] = {id};
    return db_exec(db, &SQL_GET, params, out);
}

enum nx_err imports_list(struct db *db, enum import_sort sort, const char *after_value,
                         const char *after_id, const char *limit, PGresult **out) {
    return db_exec_page(db, &SQL_LIST_FIRST[sort], &SQL_LIST_AFTER[sort], after_value, after_id,
                        limit, out);
}

enum nx_err imports_count(struct db *db, long long *total) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_COUNT, NULL, &r);
    *total = e == NX_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return e;
}

enum nx_err imports_errors(struct db *db, const char *id, const char *after_n, const char *limit,
                           PGresult **out) {
    const char *params[] = {id, after_n, limit};
    return db_exec(db, &SQL_ERRORS, params, out);
}

enum nx_err imports_start(struct db *db, const char *id, PGresult **out) {
    const char *params[] = {id};
    return db_exec(db, &SQL_START, params, out);
}

enum nx_err imports_is_bulk(struct db *db, const char *id, long long min_bytes, bool *bulk) {
    char n[24];
    PGresult *r = NULL;
    snprintf(n, sizeof n, "%lld", min_bytes);
    const char *params[] = {id, n};
    enum nx_err e = db_exec(db, &SQL_BULK, params, &r);
    *bulk = e == NX_OK && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return e;
}

static struct db_stmt SQL_BULK_LOAD_BEGIN = {"SELECT nexus_bulk_load_begin()", 0, 0};
static struct db_stmt SQL_DERIVED_PENDING = {"SELECT EXISTS (SELECT FROM derived_rebuild_pending)",
                                             0, 0};
static struct db_stmt SQL_DERIVED_REBUILD = {"SELECT nexus_derived_rebuild()", 0, 0};
/* The import's statements look a batch's rows up in tables that grow to
 * millions of rows: probes of their indexes (whose pages are in memory)
 * rather than a scan of the whole table per batch. And without JIT: the
 * batch's merge is costed high enough to be compiled again in every batch
 * (a tenth of the database's CPU time in a bulk import), while it runs
 * for a few hundred milliseconds. */
static struct db_stmt SQL_STATEMENT_TIMEOUT = {
    "SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $1, true),"
    " set_config('random_page_cost', '1.1', true), set_config('jit', 'off', true)",
    1, 0};
/* Keyed by the import and the batch (the two-key form: apart from the
 * application's other advisory locks, which take one key). */
static struct db_stmt SQL_BATCH_LOCK[] = {
    {"SELECT pg_advisory_xact_lock(($1::bigint % 2147483647)::integer, $2::integer)", 2, 0},
    {"SELECT pg_advisory_xact_lock_shared(($1::bigint % 2147483647)::integer, $2::integer)", 2, 0},
};

enum nx_err imports_bulk_load_begin(struct db *db) {
    return db_exec(db, &SQL_BULK_LOAD_BEGIN, NULL, NULL);
}

enum nx_err imports_derived_pending(struct db *db, bool *pending) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_DERIVED_PENDING, NULL, &r);
    *pending = e == NX_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return e;
}

enum nx_err imports_derived_rebuild(struct db *db) {
    return db_exec(db, &SQL_DERIVED_REBUILD, NULL, NULL);
}

static struct db_stmt SQL_CHANGED_MUCH = {
    "SELECT $1::float8 * 10 >= greatest(reltuples, 0) FROM pg_class"
    " WHERE oid = 'products'::regclass",
    1, 0};

enum nx_err imports_changed_much(struct db *db, long long written, bool *much) {
    char text[24];
    snprintf(text, sizeof text, "%lld", written);
    const char *params[] = {text};
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_CHANGED_MUCH, params, &r);
    *much = e == NX_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return e;
}

enum nx_err imports_analyze_catalog(struct db *db) {
    enum nx_err e = db_exec_sql(db, "SET statement_timeout = 0");
    if (e == NX_OK)
        e = db_exec_sql(db, "ANALYZE products, product_variants, product_attribute_numbers,"
                            " product_attribute_order, product_option_order");
    return e;
}

enum nx_err imports_statement_timeout(struct db *db, int ms) {
    char v[16];
    snprintf(v, sizeof v, "%d", ms);
    const char *params[] = {v};
    return db_exec(db, &SQL_STATEMENT_TIMEOUT, params, NULL);
}

enum nx_err imports_batch_lock(struct db *db, const char *id, long long seq, bool shared) {
    char n[24];
    snprintf(n, sizeof n, "%lld", seq % 2147483647);
    const char *params[] = {id, n};
    return db_exec(db, &SQL_BATCH_LOCK[shared], params, NULL);
}

enum nx_err imports_chunk(struct db *db, const char *id, int seq, PGresult **out) {
    char n[16];
    snprintf(n, sizeof n, "%d", seq);
    const char *params[] = {id, n};
    return db_exec(db, &SQL_CHUNK, params, out);
}

enum nx_err imports_chunk_sizes(struct db *db, const char *id, PGresult **out) {
    const char *params[] = {id};
    return db_exec(db, &SQL_CHUNK_SIZES, params, out);
}

enum nx_err imports_save_progress(struct db *db, const char *id, const struct import_progress *p,
                                  const struct import_runner *runner, bool *held) {
    char v[8][24];
    PGresult *r = NULL;
    long long values[8] = {p->rows,        p->created,   p->updated,     p->failed,
                           p->resume_line, runner->from, runner->job_id, p->resume_offset};
    for (int i = 0; i < 8; i++)
        snprintf(v[i], sizeof v[i], "%lld", values[i]);
    const char *params[] = {id, v[0], v[1], v[2], v[3], v[4], v[5], v[6], runner->worker, v[7]};
    enum nx_err e = db_exec(db, &SQL_PROGRESS, params, &r);
    *held = e == NX_OK && strtol(PQcmdTuples(r), NULL, 10) == 1;
    PQclear(r);
    return e;
}

enum nx_err imports_add_error(struct db *db, const char *id, long long n, long long line,
                              const char *field, const char *message) {
    char nt[24], lt[24];
    snprintf(nt, sizeof nt, "%lld", n);
    snprintf(lt, sizeof lt, "%lld", line);
    const char *params[] = {id, nt, lt, field, message};
    return db_exec(db, &SQL_ADD_ERROR, params, NULL);
}

enum nx_err imports_finish(struct db *db, const char *id, const char *status) {
    const char *params[] = {id, status};
    return db_exec(db, &SQL_FINISH, params, NULL);
}

enum nx_err imports_give_up(struct db *db, const char *id, const struct import_runner *runner,
                            const char *message, bool *ended) {
    char job[24];
    PGresult *r = NULL;
    snprintf(job, sizeof job, "%lld", runner->job_id);
    const char *params[] = {id, message, job, runner->worker};
    enum nx_err e = db_exec(db, &SQL_GIVE_UP, params, &r);
    *ended = e == NX_OK && strtol(PQcmdTuples(r), NULL, 10) == 1;
    PQclear(r);
    return e;
}

enum nx_err imports_purge_abandoned(struct db *db, int *purged) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_PURGE_ABANDONED, NULL, &r);
    *purged = e == NX_OK ? (int)strtol(PQcmdTuples(r), NULL, 10) : 0;
    PQclear(r);
    return e;
}

enum nx_err imports_purge_finished_errors(struct db *db, int retention_seconds, int batch,
                                          int *purged) {
    return db_purge(db, &SQL_PURGE_FINISHED_ERRORS, retention_seconds, batch, purged);
}

enum nx_err imports_purge_finished(struct db *db, int retention_seconds, int batch, int *purged) {
    return db_purge(db, &SQL_PURGE_FINISHED, retention_seconds, batch, purged);
}

enum nx_err import_stage_reset(struct db *db) {
    enum nx_err e = db_exec_sql(db, SQL_STAGE_CREATE);
    return e == NX_OK ? db_exec_sql(db, SQL_STAGE_EMPTY) : e;
}

enum nx_err import_stage_copy(struct db *db, const struct buf *products, const struct buf *variants,
                              bool analyze) {
    enum nx_err e = db_copy_in(db, SQL_STAGE_COPY, products->data, products->len);
    if (e == NX_OK)
        e = db_copy_in(db, SQL_STAGE_COPY_VARIANTS, variants->data, variants->len);
    /* the merge's joins of the stage with itself planned for its rows (a
     * temporary table has no statistics otherwise; a batch holds 2,000) */
    if (e == NX_OK && analyze)
        e = db_exec_sql(db, "ANALYZE import_stage, import_stage_variants");
    return e;
}

/* One reject step; *taken: how many rows it took out. */
static enum nx_err reject_step(struct db *db, struct db_stmt *step, import_reject_fn fn, void *ctx,
                               int *taken) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, step, NULL, &r);
    *taken = e == NX_OK ? PQntuples(r) : 0;
    for (int row = 0; row < *taken; row++)
        fn(ctx, strtoll(PQgetvalue(r, row, 0), NULL, 10), PQgetvalue(r, row, 1),
           PQgetvalue(r, row, 2));
    PQclear(r);
    return e;
}

enum nx_err import_stage_reject(struct db *db, bool create_mode, import_reject_fn fn, void *ctx) {
    /* in create mode no row may name a product: the taken skus go first,
     * so a row holding two products' skus is refused as the endpoint does */
    struct db_stmt *steps[] = {&SQL_STAGE_DUPLICATES, &SQL_STAGE_CATEGORIES,
                               create_mode ? &SQL_STAGE_TAKEN_SKUS : NULL, &SQL_STAGE_OWNERS,
                               &SQL_STAGE_TAKEN_SLUGS};
    enum nx_err e = NX_OK;
    int taken = 0;
    for (size_t i = 0; i < sizeof steps / sizeof *steps && e == NX_OK; i++)
        if (steps[i])
            e = reject_step(db, steps[i], fn, ctx, &taken);
    /* last, on the rows the others left: a product's rows one at a time */
    do {
        if (e == NX_OK)
            e = reject_step(db, &SQL_STAGE_STOCK_TOTALS, fn, ctx, &taken);
    } while (e == NX_OK && taken > 0);
    return e;
}

enum nx_err import_stage_defer(struct db *db, long long *deferred) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_STAGE_DEFER, NULL, &r);
    *deferred = e == NX_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return e;
}

enum nx_err import_stage_take_deferred(struct db *db) {
    return db_exec_sql(db, SQL_STAGE_TAKE_DEFERRED);
}

/* The categories of the stage's rows and of those deferred, in id order. */
static struct db_stmt SQL_STAGE_LOCK_CATEGORIES = {
    "SELECT c.id FROM categories c WHERE c.id IN (SELECT cat_id FROM import_stage"
    " UNION SELECT cat_id FROM import_deferred) ORDER BY c.id FOR KEY SHARE OF c",
    0, 0};

enum nx_err import_stage_lock_categories(struct db *db) {
    return db_exec(db, &SQL_STAGE_LOCK_CATEGORIES, NULL, NULL);
}

/* The stage's rows that derive their slug, each with whether a live
 * variant holds one of its SKUs (the row then updates that product). */
static struct db_stmt SQL_STAGE_DERIVED_ROWS = {
    "SELECT s.line, s.name, EXISTS (SELECT 1 FROM import_stage_variants sv"
    " JOIN product_variants v ON v.sku = sv.sku AND v.deleted_at IS NULL WHERE sv.line = s.line)"
    " FROM import_stage s WHERE NOT s.slug_given ORDER BY s.line",
    0, 0};
static struct db_stmt SQL_STAGE_SET_SLUGS = {
    "UPDATE import_stage s SET slug = u.slug FROM unnest($1::bigint[], $2::text[]) AS u(line, slug)"
    " WHERE s.line = u.line",
    2, 0};

enum nx_err import_stage_derived_rows(struct db *db, PGresult **out) {
    return db_exec(db, &SQL_STAGE_DERIVED_ROWS, NULL, out);
}

enum nx_err import_stage_set_slugs(struct db *db, const char *lines, const char *slugs) {
    const char *params[] = {lines, slugs};
    return db_exec(db, &SQL_STAGE_SET_SLUGS, params, NULL);
}

/* A step's count: its rows (a statement's), and the first row's value
 * when value is given. */
static enum nx_err merge_step(struct db *db, struct db_stmt *stmt, const char *const *params,
                              long long *count, long long *value) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, stmt, params, &r);
    if (e == NX_OK && count)
        *count = strtoll(PQcmdTuples(r), NULL, 10);
    if (e == NX_OK && value && PQntuples(r) > 0)
        *value = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return e;
}

/* Whether a row of the batch updates a product (the steps for those are
 * left out when none does: they would read the variants for nothing). */
static struct db_stmt SQL_STAGE_UPDATES = {
    "SELECT EXISTS (SELECT 1 FROM import_stage WHERE product_id IS NOT NULL)", 0, 0};

enum nx_err imports_take_product_ids(struct db *db, size_t n, struct buf *ids) {
    char count[24];
    PGresult *r = NULL;
    snprintf(count, sizeof count, "%zu", n);
    const char *params[] = {count};
    enum nx_err e = db_exec(db, &SQL_TAKE_PRODUCT_IDS, params, &r);
    ids->len = 0;
    if (e == NX_OK)
        buf_puts(ids, PQgetisnull(r, 0, 0) ? "{}" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return e;
}

enum nx_err import_stage_merge(struct db *db, const char *ids, const struct import_alerts *alerts,
                               struct import_merged *merged) {
    const char *new_product_params[] = {ids};
    char threshold[16], attempts[16];
    snprintf(threshold, sizeof threshold, "%d", alerts->low_stock_threshold);
    snprintf(attempts, sizeof attempts, "%d", alerts->max_attempts);
    const char *alert_params[] = {threshold, attempts, alerts->import_id};
    struct db_stmt *steps[] = {&SQL_MERGE_ORPHANS,      &SQL_MERGE_LOW_STOCK,
                               &SQL_MERGE_PRODUCTS,     &SQL_MERGE_OWN_VARIANT,
                               &SQL_MERGE_PARK,         &SQL_MERGE_VARIANTS,
                               &SQL_MERGE_ADD_VARIANTS, &SQL_MERGE_ATTRIBUTE_TERMS,
                               &SQL_MERGE_NEW_PRODUCTS, &SQL_MERGE_NEW_NUMBERS,
                               &SQL_MERGE_NEW_VARIANTS, &SQL_MERGE_SYNCED,
                               &SQL_MERGE_DERIVE};
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_STAGE_UPDATES, NULL, &r);
    bool updates = e == NX_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    *merged = (struct import_merged){0};
    for (size_t i = 0; i < sizeof steps / sizeof *steps && e == NX_OK; i++) {
        bool for_updates = steps[i] != &SQL_MERGE_ORPHANS && steps[i] != &SQL_MERGE_NEW_PRODUCTS &&
                           steps[i] != &SQL_MERGE_NEW_VARIANTS && steps[i] != &SQL_MERGE_SYNCED &&
                           steps[i] != &SQL_MERGE_ATTRIBUTE_TERMS &&
                           steps[i] != &SQL_MERGE_NEW_NUMBERS;
        if (for_updates && !updates)
            continue;
        bool inserts = steps[i] == &SQL_MERGE_NEW_PRODUCTS;
        e = merge_step(db, steps[i],
                       inserts                            ? new_product_params
                       : steps[i] == &SQL_MERGE_LOW_STOCK ? alert_params
                                                          : NULL,
                       steps[i] == &SQL_MERGE_PRODUCTS ? &merged->updated
                       : inserts                       ? &merged->created
                                                       : NULL,
                       steps[i] == &SQL_MERGE_PRODUCTS ? &merged->rewritten : NULL);
    }
    return e;
}
