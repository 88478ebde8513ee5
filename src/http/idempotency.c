/*
 * idempotency.c -- Idempotency-Key: see the header for the design.
 */
#include "nexus/http/idempotency.h"

#include "nexus/core/log.h"
#include "nexus/db/idempotency.h"
#include "nexus/http/client.h"
#include "nexus/http/problem.h"

#include <ctype.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char HEADER[] = "Idempotency-Key";

bool idempotency_key_valid(const char *key) {
    size_t n = 0;
    for (; key[n]; n++)
        if ((unsigned char)key[n] < 0x20 || (unsigned char)key[n] > 0x7e ||
            n >= NX_IDEMPOTENCY_KEY_MAX)
            return false;
    return n > 0;
}

static enum MHD_Result count_keys(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value) {
    (void)kind;
    (void)value;
    if (strcasecmp(key, HEADER) == 0)
        (*(unsigned *)cls)++;
    return MHD_YES;
}

static enum MHD_Result hash_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                size_t key_size, const char *value, size_t value_size) {
    (void)kind;
    crypto_hash_sha256_state *h = cls;
    /* Lengths first, so that no two different queries hash alike. */
    unsigned long long sizes[2] = {key_size, value ? value_size : (unsigned long long)-1};
    crypto_hash_sha256_update(h, (const unsigned char *)sizes, sizeof sizes);
    crypto_hash_sha256_update(h, (const unsigned char *)key, key_size);
    if (value)
        crypto_hash_sha256_update(h, (const unsigned char *)value, value_size);
    return MHD_YES;
}

/* The body's media type, lower-cased and without parameters, NUL-ended:
 * the same bytes sent as CSV and as NDJSON are two different imports. */
static void hash_media_type(crypto_hash_sha256_state *h, const char *type) {
    char media[128];
    size_t n = 0;
    for (; type && type[n] && type[n] != ';' && n < sizeof media - 1; n++)
        media[n] = (char)tolower((unsigned char)type[n]);
    while (n > 0 && (media[n - 1] == ' ' || media[n - 1] == '\t'))
        n--;
    media[n] = '\0';
    crypto_hash_sha256_update(h, (const unsigned char *)media, n + 1);
}

enum nx_err idempotency_check_header(struct request *req) {
    unsigned count = 0;
    if (req->method != HTTP_POST || !req->conn)
        return NX_OK;
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_keys, &count);
    if (count == 0)
        return NX_OK;
    const char *key = request_header(req, HEADER);
    if (count > 1)
        return problem_detail(req, NX_ERR_BAD_REQUEST, "the %s header is repeated", HEADER);
    if (!idempotency_key_valid(key))
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "the %s header must be 1 to %d printable ASCII characters", HEADER,
                              NX_IDEMPOTENCY_KEY_MAX);
    if (req->route->flags & ROUTE_NO_REPLAY)
        return NX_OK;
    req->idem_key = key;
    crypto_hash_sha256_init(&req->idem_hash);
    crypto_hash_sha256_update(&req->idem_hash, (const unsigned char *)req->method_name,
                              strlen(req->method_name) + 1);
    hash_media_type(&req->idem_hash, request_header(req, "Content-Type"));
    MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, hash_arg, &req->idem_hash);
    return NX_OK;
}

void idempotency_feed(struct request *req, const char *data, size_t len) {
    if (req->idem_key)
        crypto_hash_sha256_update(&req->idem_hash, (const unsigned char *)data, len);
}

/* ---- running under a key ------------------------------------------------ */

#define SCOPE_MAX 80

static void scope_of(const struct request *req, char out[SCOPE_MAX]) {
    if (req->principal.user_id > 0) {
        snprintf(out, SCOPE_MAX, "user:%lld", (long long)req->principal.user_id);
        return;
    }
    char client[NX_IP_TEXT_MAX];
    request_client_address(req, client);
    snprintf(out, SCOPE_MAX, "client:%s", client);
}

/* The advisory lock's key: a keyed hash of the three parts, NUL-separated
 * (none holds a NUL), so callers cannot aim at each other's locks. */
static int64_t lock_key(const char *scope, const char *path, const char *key) {
    static const unsigned char salt[crypto_generichash_KEYBYTES] = "nexus idempotency lock key";
    crypto_generichash_state h;
    unsigned char out[crypto_generichash_BYTES_MIN];
    crypto_generichash_init(&h, salt, sizeof salt, sizeof out);
    crypto_generichash_update(&h, (const unsigned char *)scope, strlen(scope) + 1);
    crypto_generichash_update(&h, (const unsigned char *)path, strlen(path) + 1);
    crypto_generichash_update(&h, (const unsigned char *)key, strlen(key));
    crypto_generichash_final(&h, out, sizeof out);
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = (v << 8) | out[i];
    return (int64_t)v;
}

static const char *fingerprint(struct request *req) {
    if (!req->idem_fingerprint[0]) { /* once: a retried handler runs again */
        unsigned char digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_final(&req->idem_hash, digest);
        sodium_bin2hex(req->idem_fingerprint, sizeof req->idem_fingerprint, digest, sizeof digest);
    }
    return req->idem_fingerprint;
}

/* The headers of an answer that are kept and replayed, and the content
 * types a kept answer may have: literals, as struct response wants. */
static const char *const KEPT_HEADERS[] = {"Location", "ETag"};
static const char *const CONTENT_TYPES[] = {"application/json", "application/x-ndjson"};

static const char *literal_of(const char *const *table, size_t n, const char *s) {
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(table[i], s) == 0)
            return table[i];
    return NULL;
}

static enum nx_err replay(struct request *req, struct response *res, PGresult *r) {
    if (strcmp(PQgetvalue(r, 0, IC_FINGERPRINT), fingerprint(req)) != 0)
        return problem_field(req, HEADER, "was already used with a different request");
    const char *ct = PQgetisnull(r, 0, IC_CONTENT_TYPE) ? NULL : PQgetvalue(r, 0, IC_CONTENT_TYPE);
    size_t len = (size_t)PQgetlength(r, 0, IC_BODY);
    char *body = xmalloc(len + 1);
    memcpy(body, PQgetvalue(r, 0, IC_BODY), len + 1);
    unsigned status = (unsigned)strtoul(PQgetvalue(r, 0, IC_STATUS), NULL, 10);
    response_take(res, status, literal_of(CONTENT_TYPES, 2, ct), body, len);
    json_t *headers = json_loads(PQgetvalue(r, 0, IC_HEADERS), 0, NULL);
    for (size_t i = 0; i < sizeof KEPT_HEADERS / sizeof *KEPT_HEADERS; i++) {
        const char *v = json_string_value(json_object_get(headers, KEPT_HEADERS[i]));
        if (v)
            response_header(res, KEPT_HEADERS[i], v);
    }
    json_decref(headers);
    response_header(res, "Idempotent-Replayed", "true");
    res->unchanged = true; /* nothing was written: no cache bump */
    return NX_OK;
}

/* Store res as the answer for the key, in the open outer transaction. */
static enum nx_err keep(struct request *req, struct db *db, const struct response *res,
                        const char *scope) {
    json_t *headers = json_object();
    for (size_t i = 0; i < res->header_count; i++)
        if (literal_of(KEPT_HEADERS, 2, res->headers[i].name))
            json_object_set_new(headers, res->headers[i].name, json_string(res->headers[i].value));
    char *headers_text = json_dumps(headers, JSON_COMPACT);
    json_decref(headers);
    char *body = xmalloc(res->len + 1);
    if (res->len)
        memcpy(body, res->body, res->len);
    body[res->len] = '\0';
    /* Kept answers are text (JSON): one with a NUL could not be replayed. */
    NX_ASSERT(strlen(body) == res->len && headers_text);
    struct idem_record rec = {scope,          req->path,
                              req->idem_key,  fingerprint(req),
                              res->status,    literal_of(CONTENT_TYPES, 2, res->content_type),
                              headers_text,   body,
                              IDEMPOTENCY_TTL};
    enum nx_err e = idempotency_store(db, &rec);
    free(headers_text);
    free(body);
    return e;
}

static enum nx_err in_progress(struct request *req) {
    problem_detail(req, NX_ERR_CONFLICT, "a request with this %s is still in progress; retry later",
                   HEADER);
    return problem_conflict(req, HEADER, "a request with this key is still in progress");
}

enum nx_err idempotency_run(struct request *req, struct response *res, route_handler handler) {
    char scope[SCOPE_MAX];
    PGresult *kept = NULL;
    bool taken = false;
    struct db *db = db_thread(req->request_id);
    if (!db) {
        req->retry_after = 2;
        return problem_detail(req, NX_ERR_UNAVAILABLE, "the database is unavailable; retry later");
    }
    scope_of(req, scope);
    enum nx_err e = db_begin_outer(db);
    if (e == NX_OK)
        e = idempotency_try_lock(db, lock_key(scope, req->path, req->idem_key), &taken);
    if (e == NX_OK && !taken)
        e = in_progress(req);
    if (e == NX_OK)
        e = idempotency_find(db, scope, req->path, req->idem_key, &kept);
    if (e == NX_OK && PQntuples(kept) == 1) {
        e = replay(req, res, kept);
        db_abort_outer(db); /* nothing to commit */
        PQclear(kept);
        return e;
    }
    PQclear(kept);
    if (e == NX_OK)
        e = handler(req, res);
    if (e == NX_OK && res->status >= 200 && res->status < 300)
        e = keep(req, db, res, scope);
    if (e == NX_ERR_CONFLICT && !fielderr_count(&req->field_errors))
        e = in_progress(req); /* a live row under a lock we hold: see keep */
    if (e == NX_OK)
        e = db_commit_outer(db);
    else
        db_abort_outer(db);
    if (e == NX_ERR_UNAVAILABLE && !req->detail[0] && !fielderr_count(&req->field_errors)) {
        req->retry_after = 2;
        problem_detail(req, e, "the database is unavailable; retry later");
    }
    return e;
}
