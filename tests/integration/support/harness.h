/*
 * harness.h -- integration test support: a real nexus server on a fresh
 * database, an HTTP client, and assertions.
 *
 * Each test executable gets its own database (a copy of one that `nexus
 * migrate` brought to the current schema once; harness_create_db makes an
 * empty one) and its own Redis database index, so executables are
 * independent of each other and of their order.
 */
#ifndef NEXUS_TEST_HARNESS_H
#define NEXUS_TEST_HARNESS_H

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

struct nexus_server {
    pid_t pid;
    int port;
    char name[64];
    char dbname[96];
    char database_url[1024];
    char redis_url[512];
    char log_path[1024];
    bool own_db; /* created by the harness, dropped at stop */
};

/* Create database nx_<name> at the current schema (a copy of the migrated
 * one, made on first use), start `nexus serve` on a free port with the
 * test environment plus extra_env ("K=V", NULL-terminated, may be NULL),
 * and wait until /healthz answers. Fails the test on any error. */
void harness_start(struct nexus_server *s, const char *name, const char *const *extra_env);

/* Start against a given DATABASE_URL (no database is created). */
void harness_start_url(struct nexus_server *s, const char *name, const char *database_url,
                       const char *const *extra_env);

/* Create an empty database nx_<name> (dropping an old one) without starting a server;
 * fills s->database_url. Drop it with harness_stop. */
void harness_create_db(struct nexus_server *s, const char *name);

/* Start `nexus worker` against s's database and Redis with s's test
 * environment plus extra_env, logging to test-logs/<name>.log; w describes
 * it. Stop it with harness_stop(w) (which requires a clean exit). */
void harness_start_worker(const struct nexus_server *s, struct nexus_server *w, const char *name,
                          const char *const *extra_env);

/* Run `nexus ARGS...` to completion with the test environment for s plus
 * extra_env; capture up to cap-1 bytes of its stderr+stdout in out.
 * Returns the exit status (or -1 if it did not exit normally). */
int harness_run(const struct nexus_server *s, const char *const *extra_env, const char *const *args,
                const char *stdin_text, char *out, size_t cap);

/* harness_run without stdin, for a command expected to end: killed (and
 * -1) when it has not within timeout_ms. */
int harness_run_within(const struct nexus_server *s, const char *const *extra_env,
                       const char *const *args, char *out, size_t cap, int timeout_ms);

/* The environment a child of s runs with: the caller's, less any NEXUS_,
 * DATABASE_URL, REDIS_URL, PORT and BIND_ADDR, plus the test settings for s and then
 * extra ("K=V", each replacing an earlier K). Free with harness_free_env. */
char **harness_env(const struct nexus_server *s, const char *const *extra);
void harness_free_env(char **env);

/* SIGTERM the server and require a clean exit 0 (sanitizer reports make
 * it non-zero); drop the database if the harness created it. */
void harness_stop(struct nexus_server *s);

/* The catalog cache's generation in the server's Redis (0: none yet). */
long long harness_catalog_generation(const struct nexus_server *s);

/* Run SQL on the server's database (test set-up only); returns rows of the
 * first column joined by ',' (owned) or NULL on error. */
char *harness_sql(const struct nexus_server *s, const char *sql);

/* The access log line s wrote for request_id into line (cap bytes), as
 * soon as it is there (a server may write it after its client has read
 * the answer); "" if it is not within 10 s. Give each request an id of
 * its own: the log keeps earlier runs' lines. */
const char *harness_access_line(const struct nexus_server *s, const char *request_id, char *line,
                                size_t cap);

/* How many lines of s's log contain both a and b (say an event's name and
 * a request id of this run's own: the log keeps earlier runs' lines). */
int harness_log_count(const struct nexus_server *s, const char *a, const char *b);

/* harness_sql for one value, printf-style; fails the test on an error. */
char *harness_sql_value(const struct nexus_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* harness_sql_value, and fail the test unless the result is want. */
void harness_expect_sql(const struct nexus_server *s, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Poll sql (one value) until it is want; fail the test when it is not
 * within about 60 s (a bound on a hang, not a deadline). */
void harness_wait_sql(const struct nexus_server *s, const char *want, const char *sql);

/* On a connection of the test's own (a libpq PGconn, declared opaquely so
 * that users without libpq need not include it): run sql, printing the
 * error when it fails; and poll sql (a count) until it is not 0, false
 * after about 30 s. */
struct pg_conn;
bool harness_pg_exec(struct pg_conn *c, const char *sql);
bool harness_pg_wait_nonzero(struct pg_conn *c, const char *sql);

/* `nexus user create` with role and password; fails the test on an error. */
void harness_create_user(const struct nexus_server *s, const char *email, const char *role,
                         const char *password);

/* A compact JSON text from a json_pack format (owned); fails on a bad format. */
char *json_body(const char *fmt, ...);

/* Run fn(i, ctx) in n (at most 32) child processes released at the same
 * moment; statuses[i] gets the HTTP status each returned. */
void harness_race(int n, long (*fn)(int i, void *ctx), void *ctx, long *statuses);
int harness_count_status(const long *statuses, int n, long want);

/* n PATCHes of path (at most 32) with one extra header (an If-Match),
 * released at once as by harness_race; racer i's body sets the string
 * member to "racer i". Exactly one must answer 200 and the others 412:
 * the winner's i. */
int harness_race_patches_one_wins(int n, const char *path, const char *token, const char *member,
                                  const char *extra);

/* Run the group's tests but those NEXUS_TEST_SKIP names (comma-separated
 * shell patterns, e.g. the ones that crash the server, to check the rest
 * under ASan). */
int harness_run_group(const char *group, const struct CMUnitTest *tests, size_t n,
                      CMFixtureFunction setup, CMFixtureFunction teardown);

/* Path of the repository's scripts, for tests that drive services. */
const char *harness_source_dir(void);

/* Apply the migration files numbered before version ("0010") to s's
 * database, each in a transaction and recorded with the SHA-256 of its
 * text as `nexus migrate` records it (tests/integration/support/migrations.c). */
void harness_migrate_before(const struct nexus_server *s, const char *version);

/* Run `nexus migrate` on s's database; fail (printing its output) unless
 * it succeeds. */
void harness_migrate(const struct nexus_server *s);

/* A digest of the migration files' names and texts (FNV-1a). */
uint64_t harness_migrations_digest(void);

/* Fail unless every facet count kept with the writes (migration 0016),
 * summed per scope and term, equals a count from scratch over the
 * products (tests/integration/support/facet_counts.c). */
void harness_expect_facet_counts_exact(const struct nexus_server *s, const char *when);

/* Fail unless every live product's solo columns (migration 0028) are its
 * one live variant's, or NULL when it has none or several
 * (tests/integration/support/solo_variants.c). */
void harness_expect_solo_variants_exact(const struct nexus_server *s, const char *when);

/* Upload an NDJSON import as token and wait (60 s at most) until it is
 * done or failed: its JSON, owned (tests/integration/support/imports.c). */
json_t *harness_import_run(const char *token, const char *body);

/* The same, failing unless it is done without a failed row. */
void harness_import_ndjson(const char *token, const char *body);

/* Poll GET path until it answers want (or timeout_ms passes); true if it did. */
bool harness_wait_status(const char *path, long want, int timeout_ms);

/* ---- HTTP client ----------------------------------------------------- */

#define HTTP_MAX_HEADERS 64

struct http_res {
    long status;
    char *body;
    size_t len;
    json_t *json; /* parsed body when it is JSON, else NULL */
    char *header_names[HTTP_MAX_HEADERS];
    char *header_values[HTTP_MAX_HEADERS];
    size_t header_count;
};

/* Send a request to the running server. headers: "Name: value" strings,
 * NULL-terminated (may be NULL). body may be NULL. */
struct http_res *http_request(const char *method, const char *path, const char *const *headers,
                              const char *body, size_t len);

/* Send with an optional bearer token and JSON body, and assert the status. */
struct http_res *http_expect(const char *method, const char *path, const char *token,
                             const char *json_body, long status);

/* A response header (case-insensitive name), or NULL. Repeated headers:
 * the first. */
const char *http_header(const struct http_res *res, const char *name);
size_t http_header_count(const struct http_res *res, const char *name);
void http_res_free(struct http_res *res);

/* Assert a problem+json response with status, and, when field is given,
 * an errors entry for it. */
void assert_problem(const struct http_res *res, long status, const char *field);

/* Send raw bytes over a fresh TCP connection and read what comes back until
 * the server closes or timeout_ms passes. Returns bytes read (NUL-terminated
 * in out). */
/* A connected TCP socket to the current server (harness_port). */
int raw_connect(void);
size_t raw_exchange(const char *bytes, size_t len, char *out, size_t cap, int timeout_ms);
/* raw_exchange that also tells how many bytes were sent before the server
 * closed or reset the connection. */
size_t raw_exchange_sent(const char *bytes, size_t len, size_t *sent, char *out, size_t cap,
                         int timeout_ms);

/* The port of the running server. */
int harness_port(void);

/* Send later requests (of this process) to s: the last server started
 * is the default. */
void harness_use(const struct nexus_server *s);

/* ---- API call shorthands (calls.c) ------------------------------------ */

/* Send with an optional bearer token, an optional JSON body and (the _h
 * forms) one optional extra header; the _owned forms free body after. */
struct http_res *call(const char *method, const char *path, const char *token, const char *body);
struct http_res *call_h(const char *method, const char *path, const char *token, const char *body,
                        const char *extra);
struct http_res *call_owned(const char *method, const char *path, const char *token, char *body);
struct http_res *call_owned_h(const char *method, const char *path, const char *token, char *body,
                              const char *extra);

/* The value of one sample of the current server's GET /metrics (its name
 * with any labels, e.g. nexus_db_reads_total{target="replica"}); -1 when
 * it is absent. */
long http_metric(const char *sample);

/* Assert the status, printing the body when it is another. */
void expect_status(const struct http_res *r, long status, const char *what);

/* assert_problem, then free r. */
void expect_problem(struct http_res *r, long status, const char *field);

/* A member that must be an integer / a string. */
long long jint(json_t *obj, const char *key);
const char *jstr(json_t *obj, const char *key);

/* An owned copy of a string that must not be NULL. */
char *take(const char *s);

/* The compact text of j (owned), consuming j. */
char *dump(json_t *j);

/* Assert an RFC 3339 UTC timestamp with at most microseconds. */
void assert_timestamp(const char *s);

/* POST /auth/login; asserts 200 and returns the access token (owned). */
char *harness_login(const char *email, const char *password);

/* Create <prefix>-staff@ and <prefix>-customer@example.com (password
 * "catalog-password") and log both in; the tokens are owned. */
void harness_staff_and_customer(const struct nexus_server *s, const char *prefix, char **staff,
                                char **customer);

/* Ids from a comma-joined harness_sql answer (consumed), at most cap. */
size_t parse_ids(char *csv, long long *ids, size_t cap);

/* ---- GraphQL (gql.c) --------------------------------------------------- */

/* POST /graphql {"query", "variables"} (variables: JSON text or NULL). */
struct http_res *gql_post(const char *token, const char *query, const char *variables);
/* GET /graphql?query=...&variables=... */
struct http_res *gql_get(const char *token, const char *query, const char *variables);
/* Assert 200 without errors; the response's data (borrowed from r). */
json_t *gql_data(struct http_res *r);
/* Assert status, a JSON (not problem+json) body whose first error has
 * extensions.code code and a message containing message_part (when not
 * NULL), and no data for a 400. */
void gql_expect_error(struct http_res *r, long status, const char *code, const char *message_part);
/* POST /api/v1/categories as token (staff); the new category's id. */
long long gql_test_category(const char *token, const char *name, const char *slug,
                            long long parent);

#endif
