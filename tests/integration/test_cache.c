/*
 * test_cache.c -- the catalog cache: hits and misses, invalidation by every
 * kind of write, read-after-write under concurrency, stampedes, and Redis
 * or PostgreSQL going away.
 *
 * The test runs its own PostgreSQL and Redis, so it can stop and hang them.
 */
#include "harness.h"
#include "silent_redis.h"

#include "../common/free_port.h"

#include <setjmp.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static struct nexus_server server;
static char dir[] = "/tmp/nexus-cache.XXXXXX";
static char staff[4096];
static char out[8192];

static void service(const char *script, const char *verb, const char *args) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "bash '%s/scripts/%s' %s %s >&2", harness_source_dir(), script, verb,
             args);
    assert_int_equal(system(cmd), 0);
}

static void postgres(const char *verb) {
    char args[600];
    snprintf(args, sizeof args, "'%s/pg' '%s/sock' '%s/pg.log'", dir, dir, dir);
    service("pg-cluster", verb, args);
}

static void redis(const char *verb) {
    char args[600];
    snprintf(args, sizeof args, "'%s/redis'", dir);
    service("redis-instance", verb, args);
}

static void redis_signal(int sig) {
    char path[600];
    snprintf(path, sizeof path, "%s/redis/redis.pid", dir);
    FILE *f = fopen(path, "r");
    long pid = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    assert_int_equal(kill((pid_t)pid, sig), 0);
}

static void login_staff(void) {
    const char *args[] = {"user",   "create", "--email", "staff@example.com",
                          "--role", "staff",  NULL};
    assert_int_equal(harness_run(&server, NULL, args, "staff-password\n", out, sizeof out), 0);
    struct http_res *r =
        http_expect("POST", "/api/v1/auth/login", NULL,
                    "{\"email\":\"staff@example.com\",\"password\":\"staff-password\"}", 200);
    snprintf(staff, sizeof staff, "%s",
             json_string_value(json_object_get(r->json, "access_token")));
    http_res_free(r);
}

/* Start a server on the test's PostgreSQL and Redis, under the key prefix
 * of the main one (so peers share its cache), with extra settings. */
static void start_with(struct nexus_server *s, const char *name, const char *setting,
                       const char *another) {
    char url[600], redis_url[600];
    snprintf(url, sizeof url, "host=%s/sock user=postgres dbname=postgres", dir);
    snprintf(redis_url, sizeof redis_url, "REDIS_URL=unix://%s/redis/redis.sock", dir);
    const char *env[] = {
        redis_url, "REDIS_TIMEOUT_MS=100", "REDIS_PREFIX=test_cache", setting, another, NULL};
    harness_start_url(s, name, url, env);
}

static void start_on_services(struct nexus_server *s, const char *name, const char *setting) {
    start_with(s, name, setting, NULL);
}

static int start(void **state) {
    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    postgres("start");
    redis("start");
    start_on_services(&server, "cache", NULL);
    login_staff();
    return 0;
}

static int stop(void **state) {
    (void)state;
    char cmd[600];
    harness_stop(&server);
    redis("stop");
    postgres("stop");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* ---- helpers ------------------------------------------------------------ */

static long create_product(const char *sku, const char *name) {
    char body[512];
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"%s\",\"price\":\"9.99\",\"stock\":3}",
             sku, name);
    struct http_res *r = http_expect("POST", "/api/v1/products", staff, body, 201);
    long id = (long)json_integer_value(json_object_get(r->json, "id"));
    http_res_free(r);
    return id;
}

/* GET path and return its X-Cache value ("HIT"/"MISS"); body into out. */
static const char *get_cached(const char *path, char *body, size_t cap) {
    static char x[8];
    struct http_res *r = http_request("GET", path, NULL, NULL, 0);
    assert_int_equal(r->status, 200);
    const char *h = http_header(r, "X-Cache");
    assert_non_null(h);
    snprintf(x, sizeof x, "%s", h);
    if (body)
        snprintf(body, cap, "%s", r->body);
    http_res_free(r);
    return x;
}

/* path comes from the cache once read. A server thread whose Redis
 * connection was closed (an earlier test restarted Redis) neither finds
 * nor stores on its first command there, and is connected again for the
 * next: a read may take each thread's turn before one stores the answer. */
static void expect_cached(const char *path) {
    for (int i = 0; i < 20; i++)
        if (strcmp(get_cached(path, NULL, 0), "HIT") == 0)
            return;
    fail_msg("%s is not answered from the cache", path);
}

static void write_json(const char *method, const char *path, const char *body, long status) {
    http_res_free(http_expect(method, path, staff, body, status));
}

/* ---- hits, misses, invalidation ----------------------------------------- */

static void test_second_read_is_a_hit_with_the_same_bytes(void **state) {
    (void)state;
    char path[64], a[4096], b[4096];
    long id = create_product("HIT-1", "Hit Lamp");
    snprintf(path, sizeof path, "/api/v1/products/%ld", id);
    assert_string_equal(get_cached(path, a, sizeof a), "MISS");
    assert_string_equal(get_cached(path, b, sizeof b), "HIT");
    assert_string_equal(a, b);
    assert_string_equal(get_cached("/api/v1/products?limit=5", a, sizeof a), "MISS");
    assert_string_equal(get_cached("/api/v1/products?limit=5", b, sizeof b), "HIT");
    assert_string_equal(a, b);
    expect_cached("/api/v1/categories");
}

static void test_query_order_does_not_split_the_cache(void **state) {
    (void)state;
    get_cached("/api/v1/products?limit=3&sort=price", NULL, 0);
    assert_string_equal(get_cached("/api/v1/products?limit=3&sort=price", NULL, 0), "HIT");
    assert_string_equal(get_cached("/api/v1/products?limit=4&sort=price", NULL, 0), "MISS");
}

/* Every kind of catalog write makes the next read of its item and of a
 * list a miss that shows the change. */
static void test_every_write_invalidates(void **state) {
    (void)state;
    char item[64], body[8192];
    long id = create_product("INV-1", "Invalidation Kettle");
    snprintf(item, sizeof item, "/api/v1/products/%ld", id);
    const char *list = "/api/v1/products?limit=100";

    expect_cached(item);
    expect_cached(list);
    write_json("PATCH", item, "{\"name\":\"Patched Kettle\"}", 200);
    assert_string_equal(get_cached(item, body, sizeof body), "MISS");
    assert_non_null(strstr(body, "Patched Kettle"));
    assert_string_equal(get_cached(list, body, sizeof body), "MISS");
    assert_non_null(strstr(body, "Patched Kettle"));

    expect_cached(item);
    write_json("PUT", item,
               "{\"sku\":\"INV-1\",\"name\":\"Replaced Kettle\",\"price\":\"1.00\",\"stock\":1}",
               200);
    assert_non_null(strstr((get_cached(item, body, sizeof body), body), "Replaced Kettle"));

    expect_cached(list);
    create_product("INV-2", "Brand New Toaster");
    assert_non_null(strstr((get_cached(list, body, sizeof body), body), "Brand New Toaster"));

    expect_cached(item);
    http_res_free(http_expect("DELETE", item, staff, NULL, 204));
    http_res_free(http_expect("GET", item, NULL, NULL, 404));
    assert_null(strstr((get_cached(list, body, sizeof body), body), "Replaced Kettle"));
}

static void test_category_writes_invalidate_embedded_names(void **state) {
    (void)state;
    char item[64], cat[64], body[8192];
    struct http_res *r =
        http_expect("POST", "/api/v1/categories", staff, "{\"name\":\"Lamps\"}", 201);
    long cid = (long)json_integer_value(json_object_get(r->json, "id"));
    http_res_free(r);
    snprintf(cat, sizeof cat, "/api/v1/categories/%ld", cid);
    snprintf(body, sizeof body,
             "{\"sku\":\"CAT-1\",\"name\":\"Desk Lamp\",\"price\":\"5\",\"stock\":1,"
             "\"category_id\":%ld}",
             cid);
    r = http_expect("POST", "/api/v1/products", staff, body, 201);
    snprintf(item, sizeof item, "/api/v1/products/%lld",
             json_integer_value(json_object_get(r->json, "id")));
    http_res_free(r);

    expect_cached(item);
    expect_cached(cat);
    expect_cached("/api/v1/categories");
    write_json("PATCH", cat, "{\"name\":\"Lighting\"}", 200);
    assert_non_null(strstr((get_cached(item, body, sizeof body), body), "Lighting"));
    assert_non_null(strstr((get_cached(cat, body, sizeof body), body), "Lighting"));
    assert_non_null(
        strstr((get_cached("/api/v1/categories", body, sizeof body), body), "Lighting"));

    expect_cached("/api/v1/categories");
    write_json("POST", "/api/v1/categories", "{\"name\":\"Rugs\"}", 201);
    assert_non_null(strstr((get_cached("/api/v1/categories", body, sizeof body), body), "Rugs"));
    r = http_expect("GET", "/api/v1/categories/rugs", NULL, NULL, 200);
    http_res_free(r);
    expect_cached("/api/v1/categories/rugs");
    http_res_free(http_expect("DELETE", "/api/v1/categories/rugs", staff, NULL, 204));
    http_res_free(http_expect("GET", "/api/v1/categories/rugs", NULL, NULL, 404));
}

/* A write to one product leaves the other products' cached items in the
 * cache (their own generations did not move), while the written product,
 * the lists and a new product show at once. */
static void test_product_write_keeps_other_items(void **state) {
    (void)state;
    char a[64], b[64], body[8192];
    const char *list = "/api/v1/products?limit=100&sort=-created_at";
    snprintf(a, sizeof a, "/api/v1/products/%ld", create_product("OWN-A", "Own Kettle"));
    snprintf(b, sizeof b, "/api/v1/products/%ld", create_product("OWN-B", "Other Toaster"));
    expect_cached(a);
    expect_cached(b);
    expect_cached(list);
    write_json("PATCH", a, "{\"stock\":42}", 200);
    assert_string_equal(get_cached(b, body, sizeof body), "HIT");
    assert_non_null(strstr(body, "Other Toaster"));
    assert_string_equal(get_cached(a, body, sizeof body), "MISS");
    assert_non_null(strstr(body, "\"stock\":42"));
    assert_string_equal(get_cached(list, body, sizeof body), "MISS");
    assert_non_null(strstr(body, "\"stock\":42"));

    create_product("OWN-C", "Third Lamp"); /* a new product: lists only */
    assert_string_equal(get_cached(a, NULL, 0), "HIT");
    assert_string_equal(get_cached(b, NULL, 0), "HIT");
    assert_non_null(strstr((get_cached(list, body, sizeof body), body), "Third Lamp"));

    http_res_free(http_expect("DELETE", b, staff, NULL, 204));
    http_res_free(http_expect("GET", b, NULL, NULL, 404));
    assert_string_equal(get_cached(a, NULL, 0), "HIT");
}

/* The same through a second instance sharing the cache: what it cached of
 * the other product stays, what it cached of the written one does not. */
static void test_product_write_on_one_instance_shows_on_another(void **state) {
    (void)state;
    struct nexus_server other = {0};
    char a[64], b[64], body[8192];
    snprintf(a, sizeof a, "/api/v1/products/%ld", create_product("TWO-A", "Twin Kettle"));
    snprintf(b, sizeof b, "/api/v1/products/%ld", create_product("TWO-B", "Twin Toaster"));
    start_on_services(&other, "cache-other", NULL);
    harness_use(&other);
    expect_cached(a);
    expect_cached(b);
    harness_use(&server);
    write_json("PATCH", a, "{\"name\":\"Renamed Twin Kettle\"}", 200);
    harness_use(&other);
    assert_non_null(strstr((get_cached(a, body, sizeof body), body), "Renamed Twin Kettle"));
    assert_string_equal(get_cached(b, body, sizeof body), "HIT");
    assert_non_null(strstr(body, "Twin Toaster"));
    harness_use(&server);
    harness_stop(&other);
}

/* GET path's next page by its next_cursor; its status. */
static long follow_next_cursor(const char *path) {
    char next[4096];
    struct http_res *r = http_expect("GET", path, NULL, NULL, 200);
    snprintf(next, sizeof next, "%s&cursor=%s", path, jstr(r->json, "next_cursor"));
    http_res_free(r);
    r = http_request("GET", next, NULL, NULL, 0);
    long status = r->status;
    if (status != 200)
        fprintf(stderr, "GET %s: %ld %s\n", next, status, r->body);
    http_res_free(r);
    return status;
}

/* After JWT_SECRET is rotated, an instance with the new secret never
 * serves a page cached by one with the old secret: its next_cursor would
 * be refused. Each instance's pages carry cursors it reads. */
static void test_a_rotated_secret_serves_cursors_it_can_read(void **state) {
    (void)state;
    struct nexus_server rotated = {0};
    const char *path = "/api/v1/products?limit=1&sort=price";
    create_product("ROT-1", "Rotation Lamp");
    create_product("ROT-2", "Rotation Chair");
    expect_cached(path);
    start_on_services(&rotated, "cache-rotated",
                      "JWT_SECRET=rotated-integration-secret-9f8e7d6c5b4a3210");
    harness_use(&rotated);
    long first = follow_next_cursor(path);
    expect_cached(path);
    long cached = follow_next_cursor(path);
    harness_use(&server);
    harness_stop(&rotated);
    assert_int_equal(first, 200);
    assert_int_equal(cached, 200);
    assert_int_equal(follow_next_cursor(path), 200); /* the old secret's entries stay its own */
}

static void test_total_follows_creates(void **state) {
    (void)state;
    char body[8192];
    const char *path = "/api/v1/products?include_total=true&limit=1";
    get_cached(path, body, sizeof body);
    struct http_res *r = http_expect("GET", path, NULL, NULL, 200);
    json_int_t before = json_integer_value(json_object_get(r->json, "total"));
    http_res_free(r);
    create_product("TOT-1", "Counted Mug");
    r = http_expect("GET", path, NULL, NULL, 200);
    assert_int_equal(json_integer_value(json_object_get(r->json, "total")), before + 1);
    http_res_free(r);
}

static void test_staff_and_public_are_cached_apart(void **state) {
    (void)state;
    char auth[4200];
    long id = create_product("STF-1", "Hidden Chair");
    char path[64];
    snprintf(path, sizeof path, "/api/v1/products/%ld", id);
    write_json("PATCH", path, "{\"is_active\":false}", 200);
    http_res_free(http_expect("GET", path, NULL, NULL, 404));
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", staff);
    const char *h[] = {auth, NULL};
    for (int i = 0; i < 2; i++) {
        struct http_res *r = http_request("GET", path, h, NULL, 0);
        assert_int_equal(r->status, 200);
        http_res_free(r);
        http_res_free(http_expect("GET", path, NULL, NULL, 404));
    }
}

/* ---- read after write under concurrency -------------------------------- */

struct shared {
    _Atomic long acknowledged; /* the last write whose response arrived */
    _Atomic long violations;
    _Atomic long reads;
    _Atomic int stop;
};

/* The version a response shows: the N of "Version N" in the body. */
static long version_in(const char *body) {
    const char *p = body ? strstr(body, "Version ") : NULL;
    return p ? strtol(p + 8, NULL, 10) : -1;
}

static void reader(struct shared *sh, const char *path) {
    while (!atomic_load(&sh->stop)) {
        long floor = atomic_load(&sh->acknowledged);
        struct http_res *r = http_request("GET", path, NULL, NULL, 0);
        long seen = version_in(r->body);
        if (r->status != 200 || seen < floor)
            atomic_fetch_add(&sh->violations, 1);
        atomic_fetch_add(&sh->reads, 1);
        http_res_free(r);
    }
    _exit(0);
}

/* Readers (child processes, on server `on`) hammer a product and a list
 * page holding it while this process renames it `writes` times through
 * server `writer`. Fails if a read that started after a write's response
 * shows an older name; returns the reads made. */
static long race_reads_with_writes(const struct nexus_server *writer, const struct nexus_server *on,
                                   long writes, const char *sku) {
    enum { READERS = 4 };
    char item[64], body[128];
    const char *list = "/api/v1/products?limit=100&sort=-created_at";
    harness_use(writer);
    long id = create_product(sku, "Version 0");
    snprintf(item, sizeof item, "/api/v1/products/%ld", id);
    struct shared *sh =
        mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(sh != MAP_FAILED);
    memset(sh, 0, sizeof *sh);
    pid_t kids[READERS];
    for (int i = 0; i < READERS; i++)
        if ((kids[i] = fork()) == 0) {
            harness_use(on);
            reader(sh, i % 2 ? list : item);
        }
    for (long v = 1; v <= writes; v++) {
        snprintf(body, sizeof body, "{\"name\":\"Version %ld\"}", v);
        write_json("PATCH", item, body, 200);
        atomic_store(&sh->acknowledged, v);
    }
    atomic_store(&sh->stop, 1);
    for (int i = 0; i < READERS; i++)
        waitpid(kids[i], NULL, 0);
    long reads = atomic_load(&sh->reads), stale = atomic_load(&sh->violations);
    fprintf(stderr, "read-after-write (%s): %ld writes, %ld concurrent reads, %ld stale\n", sku,
            writes, reads, stale);
    munmap(sh, sizeof *sh);
    harness_use(&server);
    assert_int_equal(stale, 0);
    assert_true(reads > writes);
    return reads;
}

static void test_no_read_after_a_write_response_is_stale(void **state) {
    (void)state;
    race_reads_with_writes(&server, &server, 2000, "RAW-1");
}

/* Two more instances sharing the cache, with a wide generation window: the
 * readers' instance answers most reads from its local tier without asking
 * Redis, so only the writer's wait after each bump keeps them fresh. */
static void test_no_stale_read_on_another_instance(void **state) {
    (void)state;
    struct nexus_server writer = {0}, readers = {0};
    start_on_services(&writer, "cache-writer", "CACHE_LOCAL_WINDOW_US=20000");
    start_on_services(&readers, "cache-readers", "CACHE_LOCAL_WINDOW_US=20000");
    harness_use(&readers);
    long local_before = http_metric("nexus_cache_local_hits_total");
    race_reads_with_writes(&writer, &readers, 300, "RAW-2");
    harness_use(&readers);
    long local = http_metric("nexus_cache_local_hits_total") - local_before;
    fprintf(stderr, "reads answered by the readers' local tier: %ld\n", local);
    assert_true(local > 0);
    harness_stop(&writer);
    harness_stop(&readers);
    harness_use(&server);
}

/* A write's answer waits out the window after its bump without holding
 * its server thread. On a server of one thread with a window of 1 s,
 * each of 32 racing writes still answers no sooner than the window (the
 * read-after-write promise), and the server itself reports that it held
 * several answers at once: its one thread went on to the next write while
 * earlier ones waited, which a wait that holds the thread never does. No
 * bound on elapsed time: a write taking longer on a busy machine only
 * lowers the peak, and one other write within the second suffices. */
#define FENCE_WRITES    32
#define FENCE_WINDOW_MS 1000

static long racing_stock_write(int i, void *ctx) {
    const long *ids = ctx;
    char path[64], body[64];
    snprintf(path, sizeof path, "/api/v1/products/%ld", ids[i]);
    snprintf(body, sizeof body, "{\"stock\":%d}", 100 + i);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char auth[sizeof staff + 32];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", staff);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    struct http_res *r = http_request("PATCH", path, headers, body, strlen(body));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long status = r->status;
    http_res_free(r);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
    if (status == 200 && ms < FENCE_WINDOW_MS) {
        fprintf(stderr, "write %d answered after %ld ms, inside the window\n", i, ms);
        return 599;
    }
    return status;
}

static void test_writes_wait_their_window_without_holding_the_thread(void **state) {
    (void)state;
    /* Created through the usual server: on the fenced one each creation
     * would wait out the whole window too. */
    long ids[FENCE_WRITES], statuses[FENCE_WRITES];
    for (int i = 0; i < FENCE_WRITES; i++) {
        char sku[32];
        snprintf(sku, sizeof sku, "FENCE-%d", i);
        ids[i] = create_product(sku, "Fenced kettle");
    }
    struct nexus_server one = {0};
    start_with(&one, "cache-fence", "THREADS=1", "CACHE_LOCAL_WINDOW_US=1000000");
    harness_use(&one);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    harness_race(FENCE_WRITES, racing_stock_write, ids, statuses);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
    long peak = http_metric("nexus_answers_held_peak");
    fprintf(stderr, "%d writes, each held %d ms: %ld ms in all, at most %ld held at once\n",
            FENCE_WRITES, FENCE_WINDOW_MS, ms, peak);
    assert_int_equal(harness_count_status(statuses, FENCE_WRITES, 200), FENCE_WRITES);
    assert_true(peak > 1);
    char path[64], body[4096];
    snprintf(path, sizeof path, "/api/v1/products/%ld", ids[FENCE_WRITES - 1]);
    get_cached(path, body, sizeof body);
    assert_non_null(strstr(body, "\"stock\":131"));
    harness_stop(&one);
    harness_use(&server);
}

/* ---- stampede ------------------------------------------------------------- */

static void test_cold_key_stampede_is_bounded(void **state) {
    (void)state;
    enum { CLIENTS = 256 };
    const char *path = "/api/v1/products?limit=50&sort=name&in_stock=true";
    long before = http_metric("nexus_cache_misses_total");
    pid_t kids[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        if ((kids[i] = fork()) == 0) {
            struct http_res *r = http_request("GET", path, NULL, NULL, 0);
            _exit(r->status == 200 ? 0 : 1);
        }
    int failed = 0;
    for (int i = 0; i < CLIENTS; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    long misses = http_metric("nexus_cache_misses_total") - before;
    fprintf(stderr, "stampede: %d concurrent requests on a cold key, %ld database reads\n", CLIENTS,
            misses);
    assert_int_equal(failed, 0);
    assert_true(misses >= 1 && misses <= 2); /* at most one per server thread */
}

/* ---- Redis failures -------------------------------------------------------- */

static void test_reads_survive_redis_stopped(void **state) {
    (void)state;
    long id = create_product("RST-1", "Outage Tent");
    char path[64];
    snprintf(path, sizeof path, "/api/v1/products/%ld", id);
    expect_cached(path);
    redis("stop");
    for (int i = 0; i < 50; i++) {
        http_res_free(http_expect("GET", path, NULL, NULL, 200));
        http_res_free(http_expect("GET", "/api/v1/products?limit=5", NULL, NULL, 200));
    }
    write_json("PATCH", path, "{\"name\":\"Outage Tent II\"}", 200);
    struct http_res *r = http_expect("GET", "/readyz", NULL, NULL, 200);
    json_t *checks = json_object_get(r->json, "checks");
    assert_string_equal(json_string_value(json_object_get(checks, "redis")), "unavailable");
    http_res_free(r);
    redis("start");
    /* The entry from before the write is still in Redis... */
    char body[4096];
    bool hit = false;
    for (int i = 0; i < 30 || (!hit && i < 600); i++) { /* 3 s, then until a hit (60 s) */
        hit = strcmp(get_cached(path, body, sizeof body), "HIT") == 0;
        assert_non_null(strstr(body, "Outage Tent II")); /* ...but never served */
        usleep(100 * 1000);
    }
    assert_true(hit); /* and the cache is trusted again once a bump succeeds */
}

/* A Redis outage is one line naming the address, and its end another,
 * however many attempts the threads make meanwhile: each write's bump
 * alone tries three connections. */
static void test_redis_outage_is_logged_once_and_its_end_once(void **state) {
    (void)state;
    char address[600], path[64];
    snprintf(address, sizeof address, "\"address\":\"unix://%s/redis/redis.sock\"", dir);
    long id = create_product("LOG-1", "Logged Lantern");
    snprintf(path, sizeof path, "/api/v1/products/%ld", id);
    expect_cached(path);
    int down = harness_log_count(&server, "\"redis.down\"", address);
    int up = harness_log_count(&server, "\"redis.up\"", address);
    int connects = harness_log_count(&server, "\"redis.connect\"", "");
    redis("stop");
    for (int i = 0; i < 5; i++) {
        write_json("PATCH", path, i % 2 ? "{\"stock\":4}" : "{\"stock\":5}", 200);
        http_res_free(http_expect("GET", "/api/v1/products?limit=5", NULL, NULL, 200));
    }
    int down_during = harness_log_count(&server, "\"redis.down\"", address);
    int connects_during = harness_log_count(&server, "\"redis.connect\"", "");
    redis("start");
    for (int i = 0; i < 600 && harness_log_count(&server, "\"redis.up\"", address) == up; i++) {
        get_cached(path, NULL, 0); /* 60 s at most */
        usleep(100 * 1000);
    }
    bool hit = false;                       /* the cache is trusted again once a bump succeeds */
    for (int i = 0; i < 600 && !hit; i++) { /* 60 s at most */
        hit = strcmp(get_cached(path, NULL, 0), "HIT") == 0;
        if (!hit)
            usleep(100 * 1000);
    }
    assert_true(hit);
    assert_int_equal(down_during, down + 1);
    assert_int_equal(connects_during, connects);
    assert_int_equal(harness_log_count(&server, "\"redis.up\"", address), up + 1);
    assert_int_equal(harness_log_count(&server, "\"redis.down\"", address), down + 1);
}

static void test_reads_survive_redis_hung(void **state) {
    (void)state;
    long id = create_product("HNG-1", "Frozen Mug");
    char path[64], body[4096];
    snprintf(path, sizeof path, "/api/v1/products/%ld", id);
    expect_cached(path);
    redis_signal(SIGSTOP);
    for (int i = 0; i < 30; i++)
        http_res_free(http_expect("GET", path, NULL, NULL, 200));
    /* A write while Redis hangs: its bump fails, the cache is bypassed. */
    write_json("PATCH", path, "{\"name\":\"Thawed Mug\"}", 200);
    for (int i = 0; i < 10; i++) {
        struct http_res *r = http_expect("GET", path, NULL, NULL, 200);
        assert_non_null(strstr(r->body, "Thawed Mug"));
        http_res_free(r);
    }
    redis_signal(SIGCONT);
    for (int i = 0; i < 30; i++) {
        get_cached(path, body, sizeof body);
        assert_non_null(strstr(body, "Thawed Mug"));
        usleep(100 * 1000);
    }
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A hung Redis costs one timeout per thread per backoff period, and the
 * period doubles (100 ms to 2 s) while Redis does not answer: a connect
 * that succeeds is no answer (the kernel takes it for the hung process).
 * So in T seconds a thread connects at most about 2 + log2(T / 0.1 + 1)
 * + T / 2 times, however fast or slow the machine; with the period stuck
 * at 100 ms it connected every 100 ms plus a timeout. */
static void test_hung_redis_timeouts_back_off(void **state) {
    (void)state;
    struct silent_redis r;
    char sock[600];
    snprintf(sock, sizeof sock, "%s/silent.sock", dir);
    silent_redis_start(&r, sock);
    /* written through the main server: a write on the hung one would owe
     * its bump, and an instance that owes one reads past the cache */
    long id = create_product("SIL-1", "Silent Lamp");
    char url[600];
    snprintf(url, sizeof url, "REDIS_URL=unix://%s", sock);
    struct nexus_server hung = {0};
    start_with(&hung, "cache-hung", url, "THREADS=1");
    harness_use(&hung);
    char path[64];
    snprintf(path, sizeof path, "/api/v1/products/%ld", id);
    int before = silent_redis_accepted(&r);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int reads = 0;
    for (; seconds_since(&t0) < 4.0; reads++)
        http_res_free(http_expect("GET", path, NULL, NULL, 200));
    double t = seconds_since(&t0);
    int connects = silent_redis_accepted(&r) - before;
    double bound = 2.0 + log2(t / 0.1 + 1.0) + t / 2.0;
    fprintf(stderr, "hung Redis: %d reads, %d connects in %.2f s (at most %.1f)\n", reads, connects,
            t, bound);
    assert_true(connects >= 1);
    assert_true(connects <= (int)bound);
    harness_use(&server);
    harness_stop(&hung);
    silent_redis_stop(&r);
}

/* One redis-cli command on the test's Redis; the first line of its answer. */
static long long redis_cli(const char *args) {
    char cmd[800], line[128] = "";
    snprintf(cmd, sizeof cmd, "redis-cli -s '%s/redis/redis.sock' %s", dir, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    if (!fgets(line, sizeof line, p))
        line[0] = '\0';
    assert_int_equal(pclose(p), 0);
    return strtoll(line, NULL, 10);
}

/* Redis losing its data (a restart without persistence, FLUSHALL) must not
 * bring an old generation back, or entries kept under it (locally, on any
 * instance) would match again: the next one starts from the clock. */
static void test_generation_never_repeats_after_redis_loses_it(void **state) {
    (void)state;
    long id = create_product("GEN-1", "Lost Lamp");
    char path[64], body[4096];
    snprintf(path, sizeof path, "/api/v1/products/%ld", id);
    expect_cached(path);
    long long before = redis_cli("GET test_cache:catalog:gen");
    assert_true(before > 1600000000000000LL); /* microseconds since 1970 */
    redis_cli("FLUSHALL");
    write_json("PATCH", path, "{\"name\":\"Found Lamp\"}", 200);
    long long after = redis_cli("GET test_cache:catalog:gen");
    assert_true(after > before);
    assert_string_equal(get_cached(path, body, sizeof body), "MISS");
    assert_non_null(strstr(body, "Found Lamp"));
    assert_string_equal(get_cached(path, body, sizeof body), "HIT");
    assert_non_null(strstr(body, "Found Lamp"));
}

static long failed_login(const char *email) {
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"not-the-password\"}", email);
    struct http_res *r =
        http_request("POST", "/api/v1/auth/login",
                     (const char *[]){"Content-Type: application/json", NULL}, body, strlen(body));
    long status = r->status;
    http_res_free(r);
    return status;
}

/* Failed logins counted while Redis was away still count when it is back:
 * Redis never saw them, and its return must not grant a new allowance
 * (5 per email in the window). */
static void test_login_failures_of_an_outage_count_after_it(void **state) {
    (void)state;
    const char *email = "outage-guess@example.com";
    redis("stop");
    for (int i = 0; i < 3; i++)
        assert_int_equal(failed_login(email), 401);
    redis("start");
    /* until the limiter's own connection counts in Redis again (each probe
     * is one more failure of this client, far under its limit) */
    redis_cli("DEL test_cache:lf:c:127.0.0.1");
    int probes = 0;
    do {
        assert_int_equal(failed_login("outage-probe@example.com"), 401);
        usleep(100 * 1000);
    } while (redis_cli("EXISTS test_cache:lf:c:127.0.0.1") == 0 && ++probes < 30);
    assert_true(probes < 30);
    assert_int_equal(failed_login(email), 401);
    assert_int_equal(failed_login(email), 401);
    assert_int_equal(failed_login(email), 429);
}

/* Whether a line of redis-cli's answer to args holds needle. */
static bool redis_cli_says(const char *args, const char *needle) {
    char cmd[800], line[4096];
    bool found = false;
    snprintf(cmd, sizeof cmd, "redis-cli -s '%s/redis/redis.sock' %s", dir, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p))
        found = found || strstr(line, needle) != NULL;
    assert_int_equal(pclose(p), 0);
    return found;
}

/* /readyz's word for Redis on a server started with redis_url. */
static void expect_redis_ready(const char *name, const char *redis_url, const char *want) {
    struct nexus_server s = {0};
    char setting[700], got[32] = "(none)";
    snprintf(setting, sizeof setting, "REDIS_URL=%s", redis_url);
    start_on_services(&s, name, setting);
    struct http_res *r = http_request("GET", "/readyz", NULL, NULL, 0);
    json_t *checks = r->json ? json_object_get(r->json, "checks") : NULL;
    const char *redis = json_string_value(json_object_get(checks, "redis"));
    if (redis)
        snprintf(got, sizeof got, "%s", redis);
    http_res_free(r);
    harness_use(&server);
    harness_stop(&s);
    if (strcmp(got, want) != 0)
        fail_msg("%s: redis is \"%s\", not \"%s\"", name, got, want);
}

/* The URL's user name is an ACL user: AUTH user password, the userinfo
 * ending at the last '@' and percent-decoded, on TCP and on the socket. */
static void test_redis_acl_user_from_the_url(void **state) {
    (void)state;
    char url[700];
    int port = 0;
    for (int i = 0; i < 20 && !port; i++) { /* Redis 7 listens on a port set at run time */
        char set[64];
        port = test_free_port();
        snprintf(set, sizeof set, "CONFIG SET port %d", port);
        if (port <= 0 || !redis_cli_says(set, "OK"))
            port = 0;
    }
    assert_true(port > 0);
    /* two passwords: a plain one, and one that needs the URL rules */
    assert_true(
        redis_cli_says("ACL SETUSER nx-acl on '>s3cretpw' '>s3cret@pw:x' '~*' '&*' '+@all'", "OK"));
    snprintf(url, sizeof url, "redis://nx-acl:s3cretpw@127.0.0.1:%d/0", port);
    expect_redis_ready("cache-acl-tcp", url, "ok");
    snprintf(url, sizeof url, "redis://nx-acl:s3cret@pw:x@127.0.0.1:%d", port);
    expect_redis_ready("cache-acl-tcp-at", url, "ok");
    snprintf(url, sizeof url, "redis://nx%%2Dacl:s3cret%%40pw%%3ax@127.0.0.1:%d", port);
    expect_redis_ready("cache-acl-tcp-encoded", url, "ok");
    snprintf(url, sizeof url, "unix://nx-acl:s3cret%%40pw:x@%s/redis/redis.sock?db=0", dir);
    expect_redis_ready("cache-acl-unix", url, "ok");
    /* the user is the one that signs in: its password alone does not */
    snprintf(url, sizeof url, "redis://:s3cretpw@127.0.0.1:%d", port);
    expect_redis_ready("cache-acl-no-user", url, "unavailable");
    snprintf(url, sizeof url, "redis://nx-acl:wrong@127.0.0.1:%d", port);
    expect_redis_ready("cache-acl-wrong", url, "unavailable");
    assert_true(redis_cli_says("ACL DELUSER nx-acl", "1"));
    assert_true(redis_cli_says("CONFIG SET port 0", "OK"));
}

/* ---- PostgreSQL down: cached answers still flow ----------------------------- */

static void test_etag_and_304_from_cache_without_postgres(void **state) {
    (void)state;
    long id = create_product("ETG-1", "Cached Camera");
    char path[64], inm[128];
    snprintf(path, sizeof path, "/api/v1/products/%ld", id);
    expect_cached(path);
    struct http_res *r = http_expect("GET", path, NULL, NULL, 200);
    snprintf(inm, sizeof inm, "If-None-Match: %s", http_header(r, "ETag"));
    http_res_free(r);
    postgres("stop");
    const char *h[] = {inm, NULL};
    r = http_request("GET", path, h, NULL, 0);
    assert_int_equal(r->status, 304);
    assert_string_equal(http_header(r, "X-Cache"), "HIT");
    assert_non_null(http_header(r, "ETag"));
    http_res_free(r);
    assert_string_equal(get_cached(path, NULL, 0), "HIT");
    postgres("start");
    assert_true(harness_wait_status("/readyz", 200, 10000));
}

/* ---- the key: what the answer depends on, and nothing else ------------------ */

/* Unknown parameters, their order and equivalent spellings of a value share
 * one entry; a spelling the handler refuses is still refused. */
static void test_unknown_parameters_and_order_share_one_entry(void **state) {
    (void)state;
    char path[96], a[8192], b[8192];
    long id = create_product("KEY-1", "Keyed Kettle");
    assert_string_equal(get_cached("/api/v1/products?limit=20&sort=price", a, sizeof a), "MISS");
    assert_string_equal(get_cached("/api/v1/products?sort=price&limit=20&utm=x", b, sizeof b),
                        "HIT");
    assert_string_equal(a, b);
    assert_string_equal(get_cached("/api/v1/products?z=1&limit=20&sort=price&z=2", NULL, 0), "HIT");
    snprintf(path, sizeof path, "/api/v1/products/%ld", id);
    get_cached(path, NULL, 0);
    snprintf(path, sizeof path, "/api/v1/products/%ld?nonce=8c1f", id);
    assert_string_equal(get_cached(path, NULL, 0), "HIT");
    get_cached("/api/v1/products?min_price=5&currency=usd&in_stock=true", NULL, 0);
    assert_string_equal(
        get_cached("/api/v1/products?in_stock=true&currency=USD&min_price=5.00", NULL, 0), "HIT");
    assert_string_equal(get_cached("/api/v1/categories?limit=7&q=", NULL, 0), "MISS");
    assert_string_equal(get_cached("/api/v1/categories?parent=&limit=7", NULL, 0), "HIT");
    expect_problem(call("GET", "/api/v1/products?in_stock=1&currency=USD&min_price=5", NULL, NULL),
                   400, NULL);
    expect_problem(call("GET", "/api/v1/products?limit=20&sort=price&limit=20", NULL, NULL), 400,
                   NULL);
    expect_problem(call("GET", "/api/v1/products?sort=price&limit=", NULL, NULL), 400, NULL);
    assert_string_equal(get_cached("/api/v1/products?limit=21&sort=price", NULL, 0), "MISS");
}

/* An answer over CACHE_MAX_ENTRY_BYTES is served every time and stored
 * never; a small one on the same server is still cached. */
static void test_answers_over_the_entry_limit_are_not_stored(void **state) {
    (void)state;
    struct nexus_server small = {0};
    char a[1 << 16], b[1 << 16], item[64];
    for (int i = 0; i < 8; i++) {
        char sku[32];
        snprintf(sku, sizeof sku, "BIG-%d", i);
        create_product(sku, "A product that makes the list long");
    }
    long id = create_product("BIG-ITEM", "Small Answer");
    snprintf(item, sizeof item, "/api/v1/products/%ld", id);
    start_on_services(&small, "cache-small", "CACHE_MAX_ENTRY_BYTES=1024");
    harness_use(&small);
    long before = http_metric("nexus_cache_oversize_total");
    const char *list = "/api/v1/products?limit=100&sort=name";
    assert_string_equal(get_cached(list, a, sizeof a), "MISS");
    assert_string_equal(get_cached(list, b, sizeof b), "MISS");
    assert_true(strlen(a) > 1024);
    assert_string_equal(a, b);
    json_t *page = json_loads(a, 0, NULL);
    assert_non_null(page);
    assert_true(json_array_size(json_object_get(page, "items")) >= 9);
    json_decref(page);
    assert_true(http_metric("nexus_cache_oversize_total") - before >= 2);
    expect_cached(item);
    harness_use(&server);
    harness_stop(&small);
}

/* ---- failed bumps ------------------------------------------------------------ */

/* A connection Redis closed costs the write's bump one retry, not a
 * failure: no error is counted, and reads are soon cached again. */
static void test_bump_is_retried_on_a_fresh_connection(void **state) {
    (void)state;
    char path[64];
    long id = create_product("RTY-1", "Retried Rake");
    snprintf(path, sizeof path, "/api/v1/products/%ld", id);
    long errors = http_metric("nexus_cache_errors_total");
    redis_cli("CLIENT KILL TYPE normal"); /* every server connection, not redis-cli's */
    write_json("PATCH", path, "{\"name\":\"Retried Rake II\"}", 200);
    assert_int_equal(http_metric("nexus_cache_errors_total"), errors);
    /* Reads on the other thread meet their closed connection once. */
    bool hit = false;
    for (int i = 0; i < 50 && !hit; i++) {
        hit = strcmp(get_cached(path, NULL, 0), "HIT") == 0;
        if (!hit)
            usleep(100 * 1000);
    }
    assert_true(hit);
}

/* A bump that fails on one instance (Redis hung) is owed, and delivered as
 * soon as Redis answers, with no read on that instance: another instance
 * never serves the entry from before the write once Redis is back. */
static void test_failed_bump_is_delivered_for_every_instance(void **state) {
    (void)state;
    struct nexus_server writer = {0}, reader = {0};
    char path[64], body[4096];
    long id = create_product("OWE-1", "Owed Lamp");
    snprintf(path, sizeof path, "/api/v1/products/%ld", id);
    start_on_services(&writer, "cache-owed-writer", NULL);
    start_on_services(&reader, "cache-owed-reader", NULL);
    harness_use(&reader);
    expect_cached(path);
    long long gen = redis_cli("GET test_cache:catalog:gen");
    redis_signal(SIGSTOP);
    harness_use(&writer);
    write_json("PATCH", path, "{\"name\":\"Owed Lamp II\"}", 200);
    redis_signal(SIGCONT);
    bool bumped = false;
    for (int i = 0; i < 200 && !bumped; i++) { /* 20 s: generous */
        bumped = redis_cli("GET test_cache:catalog:gen") != gen;
        if (!bumped)
            usleep(100 * 1000);
    }
    assert_true(bumped);
    harness_use(&reader);
    get_cached(path, body, sizeof body);
    assert_non_null(strstr(body, "Owed Lamp II"));
    harness_use(&server);
    harness_stop(&writer);
    harness_stop(&reader);
}

/* A writer that cannot reach Redis owes its bump, and records it in
 * PostgreSQL: when it stops before Redis answers it again, another
 * instance, notified, delivers the bump (within a housekeeping pass), so
 * the entry from before the write is not served until it expires. */
static void test_a_bump_owed_by_a_stopped_writer_is_delivered(void **state) {
    (void)state;
    struct nexus_server writer = {0}, reader = {0};
    char path[64], body[4096];
    long id = create_product("OWE-2", "Owed Chair");
    snprintf(path, sizeof path, "/api/v1/products/%ld", id);
    start_on_services(&reader, "cache-owing-reader", NULL);
    harness_use(&reader);
    expect_cached(path);
    char nowhere[600];
    snprintf(nowhere, sizeof nowhere, "REDIS_URL=unix://%s/no-redis.sock", dir);
    start_on_services(&writer, "cache-owing-writer", nowhere);
    harness_use(&writer);
    write_json("PATCH", path, "{\"name\":\"Owed Chair II\"}", 200);
    harness_stop(&writer);
    harness_use(&reader);
    bool fresh = false;
    for (int i = 0; i < 200 && !fresh; i++) { /* 20 s: generous; CACHE_TTL is 300 */
        get_cached(path, body, sizeof body);
        fresh = strstr(body, "Owed Chair II") != NULL;
        if (!fresh)
            usleep(100 * 1000);
    }
    assert_true(fresh);
    char *left = harness_sql(&server, "SELECT count(*) FROM cache_owed_bumps");
    assert_string_equal(left, "0");
    free(left);
    harness_use(&server);
    harness_stop(&reader);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_read_is_a_hit_with_the_same_bytes),
        cmocka_unit_test(test_query_order_does_not_split_the_cache),
        cmocka_unit_test(test_every_write_invalidates),
        cmocka_unit_test(test_category_writes_invalidate_embedded_names),
        cmocka_unit_test(test_product_write_keeps_other_items),
        cmocka_unit_test(test_product_write_on_one_instance_shows_on_another),
        cmocka_unit_test(test_a_rotated_secret_serves_cursors_it_can_read),
        cmocka_unit_test(test_total_follows_creates),
        cmocka_unit_test(test_staff_and_public_are_cached_apart),
        cmocka_unit_test(test_no_read_after_a_write_response_is_stale),
        cmocka_unit_test(test_no_stale_read_on_another_instance),
        cmocka_unit_test(test_writes_wait_their_window_without_holding_the_thread),
        cmocka_unit_test(test_cold_key_stampede_is_bounded),
        cmocka_unit_test(test_reads_survive_redis_stopped),
        cmocka_unit_test(test_redis_outage_is_logged_once_and_its_end_once),
        cmocka_unit_test(test_reads_survive_redis_hung),
        cmocka_unit_test(test_hung_redis_timeouts_back_off),
        cmocka_unit_test(test_generation_never_repeats_after_redis_loses_it),
        cmocka_unit_test(test_login_failures_of_an_outage_count_after_it),
        cmocka_unit_test(test_redis_acl_user_from_the_url),
        cmocka_unit_test(test_etag_and_304_from_cache_without_postgres),
        cmocka_unit_test(test_unknown_parameters_and_order_share_one_entry),
        cmocka_unit_test(test_answers_over_the_entry_limit_are_not_stored),
        cmocka_unit_test(test_bump_is_retried_on_a_fresh_connection),
        cmocka_unit_test(test_failed_bump_is_delivered_for_every_instance),
        cmocka_unit_test(test_a_bump_owed_by_a_stopped_writer_is_delivered),
    };
    return cmocka_run_group_tests_name("cache", tests, start, stop);
}
