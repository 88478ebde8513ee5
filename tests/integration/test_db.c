/*
 * test_db.c -- the database layer against a real PostgreSQL, below HTTP:
 * the record of a lost conflict that decides whether the pipeline runs a
 * handler again, and the outer transaction a handler's own transactions
 * nest in; and how a search's total is counted.
 */
#include "harness.h"

#include "nexus/core/config.h"
#include "nexus/core/log.h"
#include "nexus/core/metrics.h"
#include "nexus/db/db.h"
#include "nexus/db/products.h"
#include "nexus/db/wordplan.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static struct nexus_server server;
static struct config config;

static const char *setting(const char *name, void *ud) {
    (void)ud;
    /* The read replica is the primary itself: enough for the connection's
     * own rules (test_replica has real standbys). */
    if (strcmp(name, "DATABASE_URL") == 0 || strcmp(name, "DATABASE_READ_URL") == 0)
        return server.database_url;
    return NULL;
}

static int setup(void **state) {
    (void)state;
    char err[256];
    harness_create_db(&server, "db_layer");
    assert_true(config_load(&config, setting, NULL, err, sizeof err));
    nx_config = &config;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    db_close_all();
    config_clear(&config);
    harness_stop(&server);
    return 0;
}

#define RAISE(code) "DO $$BEGIN RAISE EXCEPTION 'lost' USING ERRCODE = '" code "'; END$$"

/* A lost conflict is remembered until the pipeline forgets it before the
 * next run of a handler: statements that follow it (a rollback, a retry of
 * something else) do not hide it, and what one request left behind never
 * counts for the next. */
static void test_a_lost_conflict_counts_only_until_forgotten(void **state) {
    (void)state;
    struct db *db = db_thread("db-test");
    assert_non_null(db);
    db_thread_forget_failures();
    assert_int_equal(db_exec_sql(db, RAISE("40P01")), NX_ERR_UNAVAILABLE);
    assert_true(db_thread_lost_conflict());
    assert_int_equal(db_exec_sql(db, "SELECT 1"), NX_OK);
    assert_true(db_thread_lost_conflict());
    db_thread_forget_failures(); /* the next request begins */
    assert_false(db_thread_lost_conflict());
}

/* Other 503s (a timeout, a cancelled statement) are not conflicts: a
 * handler that met one is not run again. */
static void test_other_unavailable_errors_are_not_conflicts(void **state) {
    (void)state;
    struct db *db = db_thread("db-test");
    assert_non_null(db);
    db_thread_forget_failures();
    assert_int_equal(db_exec_sql(db, RAISE("57014")), NX_ERR_UNAVAILABLE);
    assert_false(db_thread_lost_conflict());
    assert_int_equal(db_exec_sql(db, RAISE("40001")), NX_ERR_UNAVAILABLE);
    assert_true(db_thread_lost_conflict());
    db_thread_forget_failures();
}

/* A statement stopped by statement_timeout is remembered like a lost
 * conflict, so the answer can say the request asked too much rather than
 * that the database is down; a conflict or a lost connection is not a
 * timeout, and the next request starts without it. */
static void test_a_timeout_counts_only_until_forgotten(void **state) {
    (void)state;
    struct db *db = db_thread("db-test");
    assert_non_null(db);
    db_thread_forget_failures();
    assert_int_equal(db_exec_sql(db, RAISE("40001")), NX_ERR_UNAVAILABLE);
    assert_false(db_thread_timed_out());
    db_thread_forget_failures();
    assert_int_equal(db_begin(db), NX_OK);
    assert_int_equal(db_exec_sql(db, "SET LOCAL statement_timeout = 10"), NX_OK);
    assert_int_equal(db_exec_sql(db, "SELECT pg_sleep(2)"), NX_ERR_UNAVAILABLE);
    db_rollback(db);
    assert_true(db_thread_timed_out());
    assert_false(db_thread_lost_conflict());
    db_thread_forget_failures(); /* the next request begins */
    assert_false(db_thread_timed_out());
}

/* Named locks share 1,024 keys: a transaction naming thousands (an atomic
 * import's slugs) holds at most 1,024 entries of PostgreSQL's lock table,
 * which it would otherwise fill ("out of shared memory"). */
static void test_named_locks_share_1024_keys(void **state) {
    (void)state;
    struct db *db = db_thread("db-test");
    assert_non_null(db);
    struct buf names = {0};
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "slug:products:n-%d", i);
        db_text_array_add(&names, name);
    }
    assert_int_equal(db_begin(db), NX_OK);
    assert_int_equal(db_xact_locks(db, names.data), NX_OK);
    assert_int_equal(db_xact_lock(db, "slug:products:n-1"), NX_OK); /* held already: no wait */
    PGresult *r = PQexec(db_conn(db), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                      " AND pid = pg_backend_pid()");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long held = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    db_rollback(db);
    buf_clear(&names);
    assert_true(held > 900 && held <= 1024);
}

/* The rows of table nesting with value v, counted through db. */
static long count_of(struct db *db, const char *v) {
    static struct db_stmt count = {"SELECT count(*) FROM nesting WHERE v = $1", 1, 0};
    PGresult *r = NULL;
    const char *params[] = {v};
    assert_int_equal(db_exec(db, &count, params, &r), NX_OK);
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

/* Inside an outer transaction, a handler's transaction is a savepoint: its
 * rollback undoes only its own work, its commit and a rollback at the
 * outer level leave the outer transaction to its owner, and only
 * db_commit_outer makes the work visible. */
static void test_transactions_nest_in_an_outer_one(void **state) {
    (void)state;
    struct db *db = db_thread("db-test");
    struct db *other = db_open(server.database_url);
    assert_non_null(db);
    assert_non_null(other);
    assert_int_equal(db_exec_sql(db, "CREATE TABLE IF NOT EXISTS nesting (v text)"), NX_OK);
    assert_int_equal(db_begin_outer(db), NX_OK);
    assert_int_equal(db_exec_sql(db, "INSERT INTO nesting VALUES ('outer')"), NX_OK);
    assert_int_equal(db_begin(db), NX_OK);
    assert_int_equal(db_exec_sql(db, "INSERT INTO nesting VALUES ('undone')"), NX_OK);
    db_rollback(db);
    assert_int_equal(db_begin(db), NX_OK);
    assert_int_equal(db_exec_sql(db, "INSERT INTO nesting VALUES ('kept')"), NX_OK);
    assert_int_equal(db_commit(db), NX_OK);
    db_rollback(db); /* a handler's clean-up: the outer level is not its own */
    assert_int_equal(count_of(db, "undone"), 0);
    assert_int_equal(count_of(db, "kept"), 1);
    assert_int_equal(count_of(other, "kept"), 0); /* not committed yet */
    assert_int_equal(db_commit_outer(db), NX_OK);
    assert_int_equal(count_of(other, "kept"), 1);
    assert_int_equal(count_of(other, "outer"), 1);
    db_close(other);
}

/* The rows of snapshot_rows, by a statement prepared for a generic plan
 * (the mode a list runs in). */
static long rows_in_snapshot_table(struct db *db) {
    struct sql_builder b = {.prepare = true};
    sql_add(&b, "SELECT count(*) FROM snapshot_rows");
    PGresult *r = NULL;
    assert_int_equal(db_exec_built(db, &b, &r), NX_OK);
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    sql_clear(&b);
    return n;
}

static bool session_plans_generic(struct db *db) {
    PGresult *r = PQexec(db_conn(db), "SHOW plan_cache_mode");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    bool generic = strcmp(PQgetvalue(r, 0, 0), "force_generic_plan") == 0;
    PQclear(r);
    return generic;
}

/* A snapshot's statements see the database as at its first, whatever
 * commits meanwhile; a statement that fails in it (here a write: it only
 * reads) fails it, and ending it rolls back. The plan mode set inside it
 * is undone by that rollback, and the next statement sets it again. */
static void test_a_snapshot_reads_one_moment_until_a_statement_fails(void **state) {
    (void)state;
    struct db *db = db_thread("db-test");
    struct db *other = db_open(server.database_url);
    assert_non_null(db);
    assert_non_null(other);
    assert_int_equal(db_exec_sql(db, "CREATE TABLE IF NOT EXISTS snapshot_rows (v int)"), NX_OK);
    static struct db_stmt one = {"SELECT 1", 0, 0}; /* planned in auto, as a write's are */
    assert_int_equal(db_exec(db, &one, NULL, NULL), NX_OK);
    assert_true(db_begin_snapshot(db));
    assert_int_equal(rows_in_snapshot_table(db), 0);
    assert_int_equal(db_exec_sql(other, "INSERT INTO snapshot_rows VALUES (1)"), NX_OK);
    assert_int_equal(rows_in_snapshot_table(db), 0);
    assert_false(db_snapshot_failed(db));
    assert_int_not_equal(db_exec_sql(db, "INSERT INTO snapshot_rows VALUES (2)"), NX_OK);
    assert_true(db_snapshot_failed(db));
    db_end_snapshot(db);
    assert_false(session_plans_generic(db)); /* the rollback undid the SET */
    assert_int_equal(rows_in_snapshot_table(db), 1);
    assert_true(session_plans_generic(db));
    /* a text run alone begins the snapshot first; one never used ends */
    assert_true(db_begin_snapshot(db));
    assert_int_equal(db_exec_sql(db, "SELECT 1"), NX_OK);
    assert_int_equal(PQtransactionStatus(db_conn(db)), PQTRANS_INTRANS);
    db_end_snapshot(db);
    assert_int_equal(PQtransactionStatus(db_conn(db)), PQTRANS_IDLE);
    assert_true(db_begin_snapshot(db));
    db_end_snapshot(db);
    assert_int_equal(db_exec_sql(db, "INSERT INTO snapshot_rows VALUES (3)"), NX_OK);
    assert_int_equal(db_begin(db), NX_OK);
    assert_false(db_begin_snapshot(db)); /* not inside another transaction */
    db_rollback(db);
    db_close(other);
}

/* A statement that failed in the outer transaction (outside any savepoint)
 * makes db_commit_outer refuse: nothing is kept and the caller hears so. */
static void test_a_failed_outer_transaction_does_not_commit(void **state) {
    (void)state;
    struct db *db = db_thread("db-test");
    assert_non_null(db);
    assert_int_equal(db_exec_sql(db, "CREATE TABLE IF NOT EXISTS nesting (v text)"), NX_OK);
    assert_int_equal(db_begin_outer(db), NX_OK);
    assert_int_equal(db_exec_sql(db, "INSERT INTO nesting VALUES ('lost')"), NX_OK);
    assert_int_equal(db_exec_sql(db, RAISE("23514")), NX_ERR_VALIDATION);
    assert_int_equal(db_commit_outer(db), NX_ERR_INTERNAL);
    assert_int_equal(count_of(db, "lost"), 0);
    /* The connection is usable again, outside any transaction. */
    assert_int_equal(db_begin_outer(db), NX_OK);
    db_abort_outer(db);
}

/* The statements products_count ran for one word, and the total it gave. */
static long count_statements(struct db *db, const char *pattern, long long limit,
                             long long *total) {
    struct product_filter f = {.in_stock = -1, .patterns = {pattern}, .pattern_count = 1};
    uint64_t before = metrics_counter_value(METRIC_DB_STATEMENTS);
    assert_int_equal(products_count(db, &f, limit, total), NX_OK);
    return (long)(metrics_counter_value(METRIC_DB_STATEMENTS) - before);
}

/* The first page (20 and one more) of one word, newest first. */
static enum nx_err list_first_page(struct db *db, const char *pattern, PGresult **page) {
    struct product_filter f = {.in_stock = -1, .patterns = {pattern}, .pattern_count = 1};
    return products_list(db, &f, PS_CREATED, NULL, "0", "21", page);
}

/* A search's capped total is counted by walking the table (a sample of
 * the first rows, then a walk long enough to reach the cap) when the
 * sample finds the words common, not by fetching every match through the
 * word indexes: for words not seen yet, and for words whose first page a
 * walk filled. Words whose first page the indexes answered go to the
 * indexes at once. Either way the total is the same. */
static void seed_once(void) {
    static bool seeded;
    if (seeded)
        return;
    const char *args[] = {"seed", "--products", "300", "--categories", "12", NULL};
    char out[4096];
    assert_int_equal(harness_run(&server, NULL, args, NULL, out, sizeof out), 0);
    seeded = true;
}

/* A product's model code, lower-cased: in one product or a few. */
static char *rare_word(void) {
    return harness_sql_value(&server, "SELECT lower(substring(description"
                                      " FROM 'model ([A-Z]+-[0-9]+)')) FROM products"
                                      " ORDER BY id LIMIT 1");
}

static void test_common_words_are_counted_by_a_walk(void **state) {
    (void)state;
    seed_once();
    struct db *db = db_thread("db-test");
    assert_non_null(db);
    /* "for": in about a third of the products, so a sample of the first
     * 41 rows holds some matches but fewer than 41 */
    harness_expect_sql(&server, "t",
                       "SELECT count(*) FILTER (WHERE m) BETWEEN 5 AND 40 AND"
                       " (SELECT count(*) FROM products WHERE is_active"
                       " AND search_text LIKE '%%for%%') > 41 FROM (SELECT search_text"
                       " LIKE '%%for%%' AS m FROM products WHERE is_active LIMIT 41) s");
    word_plan_reset();
    long long total = 0;
    assert_int_equal(count_statements(db, "%for%", 41, &total), 2);
    assert_int_equal(total, 41);
    PGresult *page = NULL;
    assert_int_equal(list_first_page(db, "%for%", &page), NX_OK);
    assert_int_equal(PQntuples(page), 21); /* the short walk filled it */
    PQclear(page);
    assert_int_equal(count_statements(db, "%for%", 41, &total), 2);
    assert_int_equal(total, 41);
    /* a product's model code: in one product or a few, which the indexes
     * answer, and then count at once */
    char *code = rare_word();
    char pattern[64];
    snprintf(pattern, sizeof pattern, "%%%s%%", code);
    char *want = harness_sql_value(&server,
                                   "SELECT count(*) FROM products WHERE is_active"
                                   " AND search_text LIKE '%%%s%%'",
                                   code);
    assert_int_equal(list_first_page(db, pattern, &page), NX_OK);
    assert_true(PQntuples(page) >= 1 && PQntuples(page) < 21);
    PQclear(page);
    assert_int_equal(count_statements(db, pattern, 41, &total), 1);
    assert_int_equal(total, strtoll(want, NULL, 10));
    /* two words are remembered the same way: rare together here */
    struct product_filter two = {
        .in_stock = -1, .patterns = {"%for%", pattern}, .pattern_count = 2};
    assert_int_equal(products_list(db, &two, PS_CREATED, NULL, "0", "21", &page), NX_OK);
    PQclear(page);
    uint64_t before = metrics_counter_value(METRIC_DB_STATEMENTS);
    assert_int_equal(products_count(db, &two, 41, &total), NX_OK);
    assert_int_equal(metrics_counter_value(METRIC_DB_STATEMENTS) - before, 1);
    /* common: known from the walk that filled the first page, or, not
     * known, from a sample of the first rows */
    bool common = false;
    struct product_filter one = {.in_stock = -1, .patterns = {"%for%"}, .pattern_count = 1};
    assert_int_equal(products_words_common(db, &one, &common), NX_OK);
    assert_true(common);
    one.patterns[0] = pattern;
    assert_int_equal(products_words_common(db, &one, &common), NX_OK);
    assert_false(common);
    word_plan_reset();
    one.patterns[0] = "%o%";
    assert_int_equal(products_words_common(db, &one, &common), NX_OK);
    assert_true(common);
    one.patterns[0] = pattern;
    assert_int_equal(products_words_common(db, &one, &common), NX_OK);
    assert_false(common);
    free(code);
    free(want);
    word_plan_reset();
}

/* Whether a search for "e" (and more, SQL) is planned parallel where a
 * worker costs nothing. */
static bool planned_parallel(const char *more) {
    PGconn *c = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;"
             " SET min_parallel_table_scan_size = 0;"
             " EXPLAIN SELECT id FROM products p WHERE p.search_text LIKE '%%e%%'%s",
             more);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    bool gather = false;
    for (int i = 0; i < PQntuples(r); i++)
        gather = gather || strstr(PQgetvalue(r, i, 0), "Gather") != NULL;
    PQclear(r);
    PQfinish(c);
    return gather;
}

/* Generic plans made so far on this connection for statements naming
 * text (SQL LIKE pattern). */
static long generic_plans_of(struct db *db, const char *text) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(generic_plans), 0) FROM pg_prepared_statements"
             " WHERE statement LIKE '%s'",
             text);
    PGresult *r = PQexec(db_conn(db), sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

/* The seeded catalog's database connection, with no search plan
 * remembered yet. */
static struct db *searching_db(void) {
    seed_once();
    struct db *db = db_thread("db-test");
    assert_non_null(db);
    word_plan_reset();
    return db;
}

/* The page of one rare word, read from the word indexes, is planned once
 * for any word (a prepared statement's generic plan) and kept serial by
 * nexus_serial_plan(): where PostgreSQL finds a parallel plan cheaper (here
 * made so by pricing workers at nothing), naming the marker still keeps
 * the plan serial. */
static void test_one_rare_word_is_planned_once_and_serially(void **state) {
    (void)state;
    struct db *db = searching_db();
    char *code = rare_word();
    char pattern[64];
    snprintf(pattern, sizeof pattern, "%%%s%%", code);
    for (int i = 0; i < 3; i++) { /* the first walks, the next ones know the word rare */
        PGresult *page = NULL;
        assert_int_equal(list_first_page(db, pattern, &page), NX_OK);
        assert_true(PQntuples(page) >= 1 && PQntuples(page) < 21);
        PQclear(page);
    }
    assert_true(generic_plans_of(db, "%nexus_serial_plan()%") >= 2);
    assert_true(planned_parallel(""));
    assert_false(planned_parallel(" AND nexus_serial_plan()"));
    free(code);
    word_plan_reset();
}

/* The words of a search as the API hands them on (api/product_filters):
 * patterns, the words without a trigram, which of them are keyed exactly
 * and which are one character. Short words here are plain letters. */
struct typed_words {
    struct product_filter f;
    char patterns[NX_SEARCH_WORDS_INDEXED][64];
};

static void type_word(struct typed_words *t, const char *word, bool short_word) {
    size_t i = t->f.pattern_count++, len = strlen(word);
    snprintf(t->patterns[i], sizeof t->patterns[i], "%%%s%%", word);
    t->f.patterns[i] = t->patterns[i];
    t->f.keyed_exactly[i] = len <= 2;
    t->f.one_character[i] = len == 1;
    if (short_word) {
        t->f.short_word_pattern[t->f.short_word_count] = i;
        t->f.short_words[t->f.short_word_count++] = word;
    }
}

/* The page of t's words, three times (the first walks; the next know the
 * words rare and read the indexes); its rows must be SQL's matches. */
static void expect_words_page(struct db *db, struct typed_words *t, const char *where) {
    char *want = harness_sql_value(&server,
                                   "SELECT count(*) FROM products WHERE is_active"
                                   " AND deleted_at IS NULL AND %s",
                                   where);
    long n = strtol(want, NULL, 10);
    t->f.in_stock = -1;
    for (int i = 0; i < 3; i++) {
        PGresult *page = NULL;
        assert_int_equal(products_list(db, &t->f, PS_CREATED, NULL, "0", "21", &page), NX_OK);
        assert_int_equal(PQntuples(page), n < 21 ? n : 21);
        PQclear(page);
    }
    free(want);
}

/* Whether the last statement db ran holds text. */
static bool last_statement_has(struct db *db, const char *text) {
    char *query = harness_sql_value(&server, "SELECT query FROM pg_stat_activity WHERE pid = %d",
                                    PQbackendPID(db_conn(db)));
    bool has = strstr(query, text) != NULL;
    free(query);
    return has;
}

/* A page the walks could not fill gathers the ids of an attribute range
 * first only when nothing else can lead to the rows: beside an option's
 * values the range is checked on the rows they find (gathered first, the
 * ids of a range over most products were looked up one by one, 1.1 s at
 * 100,000 products for an option no product has). */
static void test_a_range_beside_other_filters_is_not_gathered_first(void **state) {
    (void)state;
    static const char gathered[] = "ANY (ARRAY(SELECT n.product_id";
    struct db *db = searching_db();
    struct product_filter f = {.in_stock = -1, .attribute_count = 1, .option_count = 1};
    f.attributes[0] = (struct attribute_filter){.key = "weight_g", .max = "99999999"};
    f.options[0] =
        (struct option_filter){.name = "Size", .values = "{\"no-such-size\"}", .value_count = 1};
    PGresult *page = NULL;
    assert_int_equal(products_list(db, &f, PS_CREATED, NULL, "0", "21", &page), NX_OK);
    assert_int_equal(PQntuples(page), 0);
    PQclear(page);
    assert_false(last_statement_has(db, gathered));
    /* alone, a range the walks found rare is gathered first */
    struct product_filter alone = {.in_stock = -1, .attribute_count = 1};
    alone.attributes[0] = (struct attribute_filter){.key = "weight_g", .min = "99999999"};
    assert_int_equal(products_list(db, &alone, PS_CREATED, NULL, "0", "21", &page), NX_OK);
    assert_int_equal(PQntuples(page), 0);
    PQclear(page);
    assert_true(last_statement_has(db, gathered));
    word_plan_reset();
}

/* The plan of db's last statement, its one parameter bound to value, on a
 * connection of the test's own where sequential scans are priced out (the
 * table is small here; at a catalog's size the planner prices them so). */
static char *plan_of_last_statement(struct db *db, const char *value) {
    char *query = harness_sql_value(&server, "SELECT query FROM pg_stat_activity WHERE pid = %d",
                                    PQbackendPID(db_conn(db)));
    struct db *other = db_open(server.database_url);
    assert_non_null(other);
    PGconn *c = db_conn(other);
    PQclear(PQexec(c, "SET enable_seqscan = off"));
    PGresult *r = PQprepare(c, "last", query, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "%s: %s", query, PQerrorMessage(c));
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    char *literal = PQescapeLiteral(c, value, strlen(value)), explain[128];
    snprintf(explain, sizeof explain, "EXPLAIN EXECUTE last(%s)", literal);
    PQfreemem(literal);
    r = PQexec(c, explain);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    struct buf plan = {0};
    for (int i = 0; i < PQntuples(r); i++) {
        buf_puts(&plan, PQgetvalue(r, i, 0));
        buf_puts(&plan, "\n");
    }
    PQclear(r);
    db_close(other);
    free(query);
    size_t len;
    return buf_take(&plan, &len);
}

/* A staff count over a category, inactive products included, reads the
 * category's active products and its inactive ones from their indexes
 * (before, it read every product of the catalog: the category indexes
 * hold active products only). */
static void test_a_staff_count_of_a_category_reads_its_indexes(void **state) {
    (void)state;
    struct db *db = searching_db();
    char *category = harness_sql_value(&server, "SELECT min(category_id) FROM products");
    char ids[32];
    snprintf(ids, sizeof ids, "{%s}", category);
    struct product_filter f = {
        .in_stock = -1, .include_inactive = true, .category_id = category, .category_ids = ids};
    long long total = -1;
    assert_int_equal(products_count(db, &f, 0, &total), NX_OK);
    char *want = harness_sql_value(&server,
                                   "SELECT count(*) FROM products WHERE category_id = %s"
                                   " AND deleted_at IS NULL",
                                   category);
    assert_int_equal(total, strtoll(want, NULL, 10));
    char *plan = plan_of_last_statement(db, category);
    if (!strstr(plan, "products_inactive_category_idx") || !strstr(plan, "BitmapOr"))
        fprintf(stderr, "plan:\n%s", plan);
    assert_non_null(strstr(plan, "products_inactive_category_idx"));
    assert_non_null(strstr(plan, "BitmapOr"));
    free(plan);
    free(want);
    free(category);
}

/* Words with a trigram beside words without one are planned for their
 * values (which index leads depends on them: planned for any value, the
 * trigram index led and the pairs were computed for each match, 5 s at a
 * million products); words of one or two characters alone are planned
 * once, a one-character word beside a pair checked on each row by LIKE
 * and not asked of the index of characters. */
static void test_words_of_both_kinds_are_planned_for_their_values(void **state) {
    (void)state;
    struct db *db = searching_db();
    char *code = rare_word();
    char pair[3] = {code[0], code[1], '\0'};
    char where[256];
    long pairs_before = generic_plans_of(db, "%nexus_search_codes%");
    struct typed_words mixed = {0};
    type_word(&mixed, code, false);
    type_word(&mixed, pair, true);
    snprintf(where, sizeof where, "search_text LIKE '%%%s%%' AND search_text LIKE '%%%s%%'", code,
             pair);
    expect_words_page(db, &mixed, where);
    assert_int_equal(generic_plans_of(db, "%nexus_search_codes%"), pairs_before);
    struct typed_words with_char = {0};
    type_word(&with_char, code, false);
    type_word(&with_char, "e", true);
    snprintf(where, sizeof where, "search_text LIKE '%%%s%%' AND search_text LIKE '%%e%%'", code);
    expect_words_page(db, &with_char, where);
    struct typed_words short_ones = {0};
    type_word(&short_ones, pair, true);
    type_word(&short_ones, "e", true);
    snprintf(where, sizeof where, "search_text LIKE '%%%s%%' AND search_text LIKE '%%e%%'", pair);
    expect_words_page(db, &short_ones, where);
    /* one statement: the pair from the index, the character per row */
    assert_true(generic_plans_of(db, "%(p.search_text || '''') LIKE%nexus_search_codes%") >= 2);
    assert_int_equal(generic_plans_of(db, "%nexus_search_codes%nexus_search_codes%"), 0);
    free(code);
    word_plan_reset();
}

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait until PostgreSQL's backend pid has exited (30 s at most). */
static bool wait_backend_gone(int pid) {
    for (int i = 0; i < 3000; i++) {
        char *n =
            harness_sql_value(&server, "SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid);
        bool gone = strcmp(n, "0") == 0;
        free(n);
        if (gone)
            return true;
        pause_ms(10);
    }
    return false;
}

/* A read routed to the replica was found safe on its connection's session
 * only: when that session breaks (the replica stopped), the read fails and
 * runs again on the primary. It is never run again on a fresh connection,
 * which may reach another or an older server (a multi-host URL, a
 * balancer, a rebuilt standby) that nobody checked. */
static void test_a_routed_read_is_not_retried_on_a_new_connection(void **state) {
    (void)state;
    struct db *replica = db_thread_replica("db-test");
    assert_non_null(replica);
    uint64_t checked = db_connection_serial(replica);
    int pid = PQbackendPID(db_conn(replica));
    db_thread_route_reads(true);
    assert_ptr_equal(db_thread("db-test"), replica);
    harness_expect_sql(&server, "t", "SELECT pg_terminate_backend(%d)", pid);
    assert_true(wait_backend_gone(pid));
    assert_int_equal(db_exec_sql(replica, "SELECT 1"), NX_ERR_UNAVAILABLE);
    assert_int_equal(db_exec_sql(replica, "SELECT 1"), NX_ERR_UNAVAILABLE);
    assert_null(db_thread("db-test"));
    assert_int_equal(db_connection_serial(replica), checked);
    db_thread_route_reads(false);
    /* Routing over, the next check connects anew, and knows it. */
    replica = db_thread_replica("db-test");
    assert_non_null(replica);
    assert_true(db_connection_serial(replica) > checked);
}

/* A TCP listener standing for a PostgreSQL server: it closes the first
 * `refuse` connections at once (a server that is down) and holds the
 * later ones open without a word (a server that hangs). */
struct mute_server {
    int fd;
    int refuse;
    atomic_int accepted;
    atomic_bool stop;
    int held[8];
    int held_count;
    pthread_t thread;
};

static void *mute_server_main(void *arg) {
    struct mute_server *m = arg;
    while (!atomic_load(&m->stop)) {
        struct pollfd p = {m->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(m->fd, NULL, NULL);
        if (c < 0)
            continue;
        if (atomic_fetch_add(&m->accepted, 1) < m->refuse || m->held_count == 8)
            close(c);
        else
            m->held[m->held_count++] = c;
    }
    for (int i = 0; i < m->held_count; i++)
        close(m->held[i]);
    return NULL;
}

/* Listen on a free loopback port; its conninfo into url. */
static void mute_server_start(struct mute_server *m, int refuse, char *url, size_t cap) {
    memset(m, 0, sizeof *m);
    m->refuse = refuse;
    m->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(m->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(m->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(m->fd, 16), 0);
    assert_int_equal(getsockname(m->fd, (struct sockaddr *)&a, &len), 0);
    snprintf(url, cap,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable"
             " gssencmode=disable",
             ntohs(a.sin_port));
    assert_int_equal(pthread_create(&m->thread, NULL, mute_server_main, m), 0);
}

static void mute_server_stop(struct mute_server *m) {
    atomic_store(&m->stop, true);
    pthread_join(m->thread, NULL);
    close(m->fd);
}

/* Call db_thread until the server has seen n attempts (60 s at most);
 * when the last call returned into *returned_us. */
static bool attempt_until(struct mute_server *m, int n, uint64_t *returned_us) {
    for (int i = 0; i < 12000 && atomic_load(&m->accepted) < n; i++) {
        (void)db_thread(NULL); /* no cmocka assertion off the test's thread */
        *returned_us = now_us();
        if (atomic_load(&m->accepted) < n)
            pause_ms(5);
    }
    return atomic_load(&m->accepted) >= n;
}

struct backoff_run {
    struct mute_server *server;
    bool reached;
    int after_timeout; /* attempts seen after a call right after the timed-out one */
    uint64_t gap_us;   /* from the timed-out attempt's return to that call */
};

/* On a thread of its own: a thread connection of its own. */
static void *attempt_after_a_timeout(void *arg) {
    struct backoff_run *run = arg;
    /* Refused attempts raise the backoff to its ceiling (1 to 2 s); then
     * one attempt waits out the whole connect timeout. */
    uint64_t returned_us = 0;
    run->reached = attempt_until(run->server, run->server->refuse + 1, &returned_us);
    if (run->reached) {
        run->gap_us = now_us() - returned_us;
        (void)db_thread(NULL);
        run->after_timeout = atomic_load(&run->server->accepted);
    }
    db_thread_close();
    return NULL;
}

/* A server that does not answer costs a connect timeout (3 s); the backoff
 * after it counts from its end, so the call right after it fails at once
 * rather than waiting for another timeout (a request that finds its
 * connection in the backoff gets 503 at once). */
static void test_the_backoff_counts_from_the_end_of_a_timed_out_attempt(void **state) {
    (void)state;
    struct mute_server mute;
    char url[200];
    mute_server_start(&mute, 6, url, sizeof url);
    char *primary = config.database_url;
    config.database_url = url;
    struct backoff_run run = {&mute, false, 0, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, attempt_after_a_timeout, &run), 0);
    pthread_join(t, NULL);
    config.database_url = primary;
    mute_server_stop(&mute);
    assert_true(run.reached);
    /* The backoff lasts at least 1 s: a machine so busy that the next call
     * came later than that proves nothing either way. */
    if (run.gap_us >= 900000u)
        skip();
    assert_int_equal(run.after_timeout, mute.refuse + 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_lost_conflict_counts_only_until_forgotten),
        cmocka_unit_test(test_other_unavailable_errors_are_not_conflicts),
        cmocka_unit_test(test_a_timeout_counts_only_until_forgotten),
        cmocka_unit_test(test_named_locks_share_1024_keys),
        cmocka_unit_test(test_transactions_nest_in_an_outer_one),
        cmocka_unit_test(test_a_snapshot_reads_one_moment_until_a_statement_fails),
        cmocka_unit_test(test_a_failed_outer_transaction_does_not_commit),
        cmocka_unit_test(test_common_words_are_counted_by_a_walk),
        cmocka_unit_test(test_one_rare_word_is_planned_once_and_serially),
        cmocka_unit_test(test_words_of_both_kinds_are_planned_for_their_values),
        cmocka_unit_test(test_a_range_beside_other_filters_is_not_gathered_first),
        cmocka_unit_test(test_a_staff_count_of_a_category_reads_its_indexes),
        cmocka_unit_test(test_a_routed_read_is_not_retried_on_a_new_connection),
        cmocka_unit_test(test_the_backoff_counts_from_the_end_of_a_timed_out_attempt),
    };
    return harness_run_group("db", tests, sizeof tests / sizeof tests[0], setup, teardown);
}
