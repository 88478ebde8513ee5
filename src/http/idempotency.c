/*
 * idempotency.c -- Idempotency-Key: see the header for the design.
 */
#include "nexus/http/idempotency.h"

#include "nexus/auth/password.h"
#include "nexus/auth/token.h"
#include "nexus/core/config.h"
#include "nexus/core/log.h"
#include "nexus/core/xmem.h"
#include "nexus/db/idempotency.h"
#include "nexus/db/logins.h"
#include "nexus/http/auth.h"
#include "nexus/http/client.h"
#include "nexus/http/problem.h"
#include "nexus/http/ratelimit.h"

#include <ctype.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
    crypto_auth_hmacsha256_state *h = cls;
    /* Lengths first, so that no two different queries hash alike. */
    unsigned long long sizes[2] = {key_size, value ? value_size : (unsigned long long)-1};
    crypto_auth_hmacsha256_update(h, (const unsigned char *)sizes, sizeof sizes);
    crypto_auth_hmacsha256_update(h, (const unsigned char *)key, key_size);
    if (value)
        crypto_auth_hmacsha256_update(h, (const unsigned char *)value, value_size);
    return MHD_YES;
}

/* The body's media type, lower-cased and without parameters, NUL-ended:
 * the same bytes sent as CSV and as NDJSON are two different imports. */
static void hash_media_type(crypto_auth_hmacsha256_state *h, const char *type) {
    char media[128];
    size_t n = 0;
    for (; type && type[n] && type[n] != ';' && n < sizeof media - 1; n++)
        media[n] = (char)tolower((unsigned char)type[n]);
    while (n > 0 && (media[n - 1] == ' ' || media[n - 1] == '\t'))
        n--;
    media[n] = '\0';
    crypto_auth_hmacsha256_update(h, (const unsigned char *)media, n + 1);
}

/* A request's fingerprint is kept for a day beside its key, and a body
 * may hold a password (register, login) or a token: a plain hash of it
 * could be guessed offline at a hash's speed, past Argon2. Keyed with a
 * subkey of JWT_SECRET (which every instance shares), it cannot. */
static void fingerprint_init(crypto_auth_hmacsha256_state *h) {
    static const unsigned char context[crypto_generichash_KEYBYTES] =
        "nexus idempotency fingerprint";
    unsigned char subkey[crypto_auth_hmacsha256_KEYBYTES];
    crypto_generichash(subkey, sizeof subkey, (const unsigned char *)nx_config->jwt_secret,
                       nx_config->jwt_secret_len, context, sizeof context);
    crypto_auth_hmacsha256_init(h, subkey, sizeof subkey);
    sodium_memzero(subkey, sizeof subkey);
}

static enum nx_err claim_upload(struct request *req);

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
    fingerprint_init(&req->idem_hash);
    crypto_auth_hmacsha256_update(&req->idem_hash, (const unsigned char *)req->method_name,
                                  strlen(req->method_name) + 1);
    hash_media_type(&req->idem_hash, request_header(req, "Content-Type"));
    MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, hash_arg, &req->idem_hash);
    return req->route->flags & ROUTE_UPLOAD ? claim_upload(req) : NX_OK;
}

void idempotency_feed(struct request *req, const char *data, size_t len) {
    if (req->idem_key)
        crypto_auth_hmacsha256_update(&req->idem_hash, (const unsigned char *)data, len);
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
        unsigned char digest[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_final(&req->idem_hash, digest);
        sodium_bin2hex(req->idem_fingerprint, sizeof req->idem_fingerprint, digest, sizeof digest);
    }
    return req->idem_fingerprint;
}

/* The headers of an answer that are kept and replayed, and the content
 * types a kept answer may have: literals, as struct response wants. */
static const char *const KEPT_HEADERS[] = {"Location", "ETag", "Cache-Control"};
#define KEPT_HEADER_COUNT (sizeof KEPT_HEADERS / sizeof *KEPT_HEADERS)
static const char *const CONTENT_TYPES[] = {"application/json", "application/x-ndjson",
                                            "application/problem+json"};
#define CONTENT_TYPE_COUNT (sizeof CONTENT_TYPES / sizeof *CONTENT_TYPES)

static const char *literal_of(const char *const *table, size_t n, const char *s) {
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(table[i], s) == 0)
            return table[i];
    return NULL;
}

/* ---- sealed answers (ROUTE_SEALED_REPLAY) ---------------------------- */

/* The sealing key of a request: a keyed hash of its body under a subkey
 * of JWT_SECRET. Only a repeat of the same body (which holds the password
 * or the refresh token) can open what the first request kept; the rows
 * alone, say from a backup, give no token away. */
static void seal_key(const struct request *req, unsigned char key[crypto_secretbox_KEYBYTES]) {
    static const unsigned char context[crypto_generichash_KEYBYTES] = "nexus idempotency sealed";
    unsigned char subkey[crypto_generichash_KEYBYTES];
    crypto_generichash(subkey, sizeof subkey, (const unsigned char *)nx_config->jwt_secret,
                       nx_config->jwt_secret_len, context, sizeof context);
    crypto_generichash(key, crypto_secretbox_KEYBYTES, (const unsigned char *)req->body.data,
                       req->body.len, subkey, sizeof subkey);
    sodium_memzero(subkey, sizeof subkey);
}

/* The answer's body sealed (nonce, then ciphertext), as base64 text. */
static char *seal(const struct request *req, const char *plain, size_t len) {
    unsigned char key[crypto_secretbox_KEYBYTES];
    size_t sealed_len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    unsigned char *sealed = xmalloc(sealed_len);
    randombytes_buf(sealed, crypto_secretbox_NONCEBYTES);
    seal_key(req, key);
    crypto_secretbox_easy(sealed + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, len,
                          sealed, key);
    sodium_memzero(key, sizeof key);
    size_t text_len = sodium_base64_ENCODED_LEN(sealed_len, sodium_base64_VARIANT_ORIGINAL);
    char *text = xmalloc(text_len);
    sodium_bin2base64(text, text_len, sealed, sealed_len, sodium_base64_VARIANT_ORIGINAL);
    free(sealed);
    return text;
}

/* The body seal kept, opened with this request's key; NULL when it does
 * not open (JWT_SECRET changed since). */
static char *unseal(const struct request *req, const char *text, size_t text_len, size_t *len) {
    unsigned char key[crypto_secretbox_KEYBYTES];
    unsigned char *sealed = xmalloc(text_len + 1);
    size_t sealed_len = 0;
    char *plain = NULL;
    bool ok = sodium_base642bin(sealed, text_len + 1, text, text_len, NULL, &sealed_len, NULL,
                                sodium_base64_VARIANT_ORIGINAL) == 0 &&
              sealed_len >= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
    if (ok) {
        *len = sealed_len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
        plain = xmalloc(*len + 1);
        seal_key(req, key);
        ok =
            crypto_secretbox_open_easy((unsigned char *)plain, sealed + crypto_secretbox_NONCEBYTES,
                                       sealed_len - crypto_secretbox_NONCEBYTES, sealed, key) == 0;
        sodium_memzero(key, sizeof key);
        plain[*len] = '\0';
    }
    free(sealed);
    if (!ok) {
        free(plain);
        return NULL;
    }
    return plain;
}

/* Replace body (wiped first: it may hold tokens) with doc's text, in the
 * form every answer is written in, its members in their order. */
static void rewrite_body(char **body, size_t *len, const json_t *doc) {
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text)
        return;
    sodium_memzero(*body, *len);
    free(*body);
    *body = text;
    *len = strlen(text);
}

/* A kept problem names the request that ran; its replay names this one,
 * as its X-Request-Id and log line do. body is replaced. */
static void rename_problem(const struct request *req, char **body, size_t *len) {
    json_t *problem = json_loadb(*body, *len, 0, NULL);
    if (json_is_object(problem) && json_object_get(problem, "request_id") &&
        json_object_set_new(problem, "request_id", json_string(req->request_id)) == 0)
        rewrite_body(body, len, problem);
    json_decref(problem);
}

/* A kept token pair's access token has aged since it was issued, and a
 * client schedules its next refresh from expires_in (RFC 6749 5.1): the
 * replay says the seconds the token has left, from its own exp (0 once it
 * has expired), and is otherwise the kept answer byte for byte. body is
 * replaced. */
static void age_expires_in(char **body, size_t *len) {
    json_t *pair = json_loadb(*body, *len, 0, NULL);
    json_t *access = json_object_get(pair, "access_token");
    int64_t exp = 0;
    if (json_is_integer(json_object_get(pair, "expires_in")) && json_is_string(access) &&
        token_access_expiry(auth_keys(), json_string_value(access), json_string_length(access),
                            &exp)) {
        int64_t left = exp - (int64_t)time(NULL);
        json_object_set_new(pair, "expires_in", json_integer(left > 0 ? left : 0));
        rewrite_body(body, len, pair);
    }
    json_decref(pair);
}

/* On a route whose body holds a password, the kept answer's replay (the
 * same body) and the 422 for another body would tell a right password
 * from a wrong one without limit: each is a password attempt for the
 * email the body gives, counted as a login's. A 422 is a failure; a
 * replay is refused like a login while that email or the client is over
 * its limit, and counts nothing otherwise. */
static enum nx_err password_attempt(struct request *req, bool same_body) {
    if (!(req->route->flags & ROUTE_PASSWORD_BODY))
        return NX_OK;
    char client[NX_IP_TEXT_MAX];
    const char *email = json_string_value(json_object_get(req->json, "email"));
    struct throttle t;
    request_client_limit_key(req, client);
    enum nx_err e = login_throttle_begin(req, &t, email ? email : "", client);
    if (e != NX_OK)
        return e;
    if (same_body)
        throttle_undo(&t);
    else
        throttle_failed(&t);
    return NX_OK;
}

/* A kept login or refresh whose login has ended since (logout, a reuse,
 * a password reset, the user deactivated) holds tokens that no longer
 * work: its replay is a 401, as the request itself would now be for a
 * deactivated user, rather than a 200 with dead tokens. */
static enum nx_err kept_login_live(struct request *req, struct db *db, const char *body,
                                   size_t len) {
    json_t *kept = json_loadb(body, len, 0, NULL);
    json_t *token = json_object_get(kept, "refresh_token");
    unsigned char hash[NX_TOKEN_HASH_LEN];
    char hex[NX_TOKEN_HASH_PARAM_LEN];
    bool opaque = json_is_string(token) &&
                  token_hash_opaque(json_string_value(token), json_string_length(token), hash);
    json_decref(kept);
    if (!opaque)
        return NX_OK;
    token_hash_param(hash, hex);
    PGresult *r = NULL;
    enum nx_err e = refresh_lock(db, hex, &r);
    bool ended =
        e == NX_OK && (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, RC_STATE), "revoked") == 0);
    PQclear(r);
    if (ended)
        return problem_detail(req, NX_ERR_UNAUTHORIZED,
                              "the login this Idempotency-Key started has ended; log in again"
                              " with a new key");
    return e;
}

static enum nx_err replay(struct request *req, struct response *res, struct db *db, PGresult *r) {
    bool same_body = strcmp(PQgetvalue(r, 0, IC_FINGERPRINT), fingerprint(req)) == 0;
    enum nx_err e = password_attempt(req, same_body);
    if (e != NX_OK)
        return e;
    if (!same_body)
        return problem_field(req, HEADER, "was already used with a different request");
    const char *ct = PQgetisnull(r, 0, IC_CONTENT_TYPE) ? NULL : PQgetvalue(r, 0, IC_CONTENT_TYPE);
    size_t len = (size_t)PQgetlength(r, 0, IC_BODY);
    char *body = NULL;
    if (req->route->flags & ROUTE_SEALED_REPLAY) {
        body = unseal(req, PQgetvalue(r, 0, IC_BODY), len, &len);
        if (!body)
            return problem_field(req, HEADER,
                                 "was already used, and its answer can no longer be read");
        bool pair = strcmp(PQgetvalue(r, 0, IC_STATUS), "200") == 0;
        if (pair)
            e = kept_login_live(req, db, body, len);
        if (e != NX_OK) {
            sodium_memzero(body, len);
            free(body);
            return e;
        }
        if (pair)
            age_expires_in(&body, &len);
    } else {
        body = xmalloc(len + 1);
        memcpy(body, PQgetvalue(r, 0, IC_BODY), len + 1);
    }
    unsigned status = (unsigned)strtoul(PQgetvalue(r, 0, IC_STATUS), NULL, 10);
    ct = literal_of(CONTENT_TYPES, CONTENT_TYPE_COUNT, ct);
    if (ct && strcmp(ct, "application/problem+json") == 0)
        rename_problem(req, &body, &len);
    response_take(res, status, ct, body, len);
    json_t *headers = json_loads(PQgetvalue(r, 0, IC_HEADERS), 0, NULL);
    for (size_t i = 0; i < KEPT_HEADER_COUNT; i++) {
        const char *v = json_string_value(json_object_get(headers, KEPT_HEADERS[i]));
        if (v)
            response_header(res, KEPT_HEADERS[i], v);
    }
    json_decref(headers);
    response_header(res, "Idempotent-Replayed", "true");
    /* A kept success answers for a write that committed with it, whose
     * request bumps the catalog generation only after that commit: it may
     * not have yet, or may never (its process stopped first). So the
     * replay bumps and waits out the window like the write (a bump after
     * the commit is always safe), and a read that starts after its answer
     * shows the write. A kept refusal wrote nothing. */
    res->unchanged = status < 200 || status >= 300;
    return NX_OK;
}

/* Store res as the answer for the key, in the open outer transaction. */
static enum nx_err keep(struct request *req, struct db *db, const struct response *res,
                        const char *scope) {
    json_t *headers = json_object();
    for (size_t i = 0; i < res->header_count; i++)
        if (literal_of(KEPT_HEADERS, KEPT_HEADER_COUNT, res->headers[i].name))
            json_object_set_new(headers, res->headers[i].name, json_string(res->headers[i].value));
    char *headers_text = json_dumps(headers, JSON_COMPACT);
    json_decref(headers);
    char *body = xmalloc(res->len + 1);
    if (res->len)
        memcpy(body, res->body, res->len);
    body[res->len] = '\0';
    /* Kept answers are text (JSON): one with a NUL could not be replayed. */
    NX_ASSERT(strlen(body) == res->len && headers_text);
    if (req->route->flags & ROUTE_SEALED_REPLAY) {
        char *sealed = seal(req, body, res->len);
        sodium_memzero(body, res->len);
        free(body);
        body = sealed;
    }
    struct idem_record rec = {
        scope,          req->path,
        req->idem_key,  fingerprint(req),
        res->status,    literal_of(CONTENT_TYPES, CONTENT_TYPE_COUNT, res->content_type),
        headers_text,   body,
        IDEMPOTENCY_TTL};
    enum nx_err e = idempotency_store(db, &rec);
    free(headers_text);
    free(body);
    return e;
}

/* The handler's refusals that are its answer to this request, kept like
 * a success: the same request gets the same answer again, and the key
 * cannot be reused for another body. Not kept: what a retry may change
 * (429, 401, the database down, a failure of the server's own). */
static bool answer_is_kept(enum nx_err e) {
    return e == NX_ERR_BAD_REQUEST || e == NX_ERR_FORBIDDEN || e == NX_ERR_NOT_FOUND ||
           e == NX_ERR_CONFLICT || e == NX_ERR_PRECONDITION || e == NX_ERR_VALIDATION;
}

/* Keep the problem e that the handler answered. Its transaction was rolled
 * back; the key's session lock was not, so no repeat ran meanwhile. */
static void keep_refusal(struct request *req, struct db *db, enum nx_err e, const char *scope) {
    struct response refusal = {0};
    problem_render(req, e, &refusal);
    enum nx_err k = db_begin_outer(db);
    if (k == NX_OK)
        k = keep(req, db, &refusal, scope);
    if (k == NX_OK)
        k = db_commit_outer(db);
    else
        db_abort_outer(db);
    if (k != NX_OK)
        log_warn("idempotency.keep", req->request_id, "the refusal was not kept");
    response_clear(&refusal);
}

static enum nx_err in_progress(struct request *req) {
    req->conflict_retries = true; /* the first ends in a moment */
    problem_detail(req, NX_ERR_CONFLICT, "a request with this %s is still in progress; retry later",
                   HEADER);
    return problem_conflict(req, HEADER, "a request with this key is still in progress");
}

/* The key's lock is held by another request: one still running (409),
 * or a repeat replaying a kept answer, which this one replays too. The
 * answer is kept before the lock is let go, so one found is done. */
static enum nx_err busy_or_replay(struct request *req, struct response *res, struct db *db,
                                  const char *scope) {
    PGresult *kept = NULL;
    enum nx_err e = idempotency_find(db, scope, req->path, req->idem_key, &kept);
    if (e == NX_OK)
        e = PQntuples(kept) == 1 ? replay(req, res, db, kept) : in_progress(req);
    PQclear(kept);
    return e;
}

/* The refusal e whose writes stand (see request.h): committed, and its
 * answer is e unless the commit fails. */
static enum nx_err commit_refusal(struct db *db, enum nx_err e) {
    enum nx_err c = db_commit_outer(db);
    return c == NX_OK ? e : c;
}

/* Run the handler under the key's lock, which the caller holds. */
static enum nx_err run_locked(struct request *req, struct response *res, route_handler handler,
                              struct db *db, const char *scope) {
    PGresult *kept = NULL;
    enum nx_err e = db_begin_outer(db);
    if (e == NX_OK)
        e = idempotency_find(db, scope, req->path, req->idem_key, &kept);
    if (e == NX_OK && PQntuples(kept) == 1) {
        e = replay(req, res, db, kept);
        db_abort_outer(db); /* nothing to commit */
        PQclear(kept);
        return e;
    }
    PQclear(kept);
    bool ran = e == NX_OK;
    if (ran)
        e = handler(req, res);
    enum nx_err refused = ran ? e : NX_OK;
    if (e == NX_OK && res->status >= 200 && res->status < 300)
        e = keep(req, db, res, scope);
    if (e == NX_ERR_CONFLICT && refused == NX_OK && !fielderr_count(&req->field_errors))
        e = in_progress(req); /* a live row under a lock we hold: see keep */
    if (e == NX_OK)
        e = db_commit_outer(db);
    else if (e == refused && req->refusal_commits)
        e = commit_refusal(db, e);
    else
        db_abort_outer(db);
    if (refused != NX_OK && answer_is_kept(refused))
        keep_refusal(req, db, refused, scope);
    return e;
}

bool idempotency_answer_kept(struct request *req) {
    char scope[SCOPE_MAX];
    if (req->idem_claim[0])
        return false; /* it holds the key: no answer was there */
    struct db *db = req->idem_key ? db_thread(req->request_id) : NULL;
    PGresult *kept = NULL;
    if (!db)
        return false;
    scope_of(req, scope);
    bool found = idempotency_find(db, scope, req->path, req->idem_key, &kept) == NX_OK &&
                 PQntuples(kept) == 1;
    PQclear(kept);
    return found;
}

/* ---- keys whose request waits for a password hash ----------------------- */

/* The lock numbers of the keys marked running (see the header): at most
 * one entry per suspended request, so a short list. */
static pthread_mutex_t waiting_mutex = PTHREAD_MUTEX_INITIALIZER;
static int64_t *waiting;
static size_t waiting_count, waiting_cap;

/* Whether another request keeps the key of lock marked running. */
static bool waiting_elsewhere(const struct request *req, int64_t lock) {
    if (req->idem_waiting)
        return false; /* its own mark: one key per request */
    bool found = false;
    pthread_mutex_lock(&waiting_mutex);
    for (size_t i = 0; i < waiting_count && !found; i++)
        found = waiting[i] == lock;
    pthread_mutex_unlock(&waiting_mutex);
    return found;
}

static void waiting_mark(struct request *req, int64_t lock) {
    pthread_mutex_lock(&waiting_mutex);
    if (waiting_count == waiting_cap) {
        waiting_cap = waiting_cap ? 2 * waiting_cap : 16;
        waiting = xrealloc(waiting, waiting_cap * sizeof *waiting);
    }
    waiting[waiting_count++] = lock;
    pthread_mutex_unlock(&waiting_mutex);
    req->idem_waiting = true;
    req->idem_lock = lock;
}

static void waiting_lift(struct request *req) {
    if (!req->idem_waiting)
        return;
    pthread_mutex_lock(&waiting_mutex);
    for (size_t i = 0; i < waiting_count; i++)
        if (waiting[i] == req->idem_lock) {
            waiting[i] = waiting[--waiting_count];
            break;
        }
    pthread_mutex_unlock(&waiting_mutex);
    req->idem_waiting = false;
}

/* After a run under the lock, before it is let go: a run that waits for a
 * hash marks the key; the run that follows the hash lifts the mark. */
static void waiting_update(struct request *req, int64_t lock) {
    bool waits = password_deferred();
    if (waits && !req->idem_waiting)
        waiting_mark(req, lock);
    else if (!waits)
        waiting_lift(req);
}

/* Take the key's lock: a request back from its hash waits for it, since
 * the key is marked as its own and whoever holds the lock meanwhile only
 * looks and lets go. */
static enum nx_err take_lock(struct db *db, const struct request *req, int64_t lock, bool *taken) {
    if (!req->idem_waiting)
        return idempotency_try_lock(db, lock, taken);
    enum nx_err e = idempotency_lock(db, lock);
    *taken = e == NX_OK;
    return e;
}

static enum nx_err db_unavailable(struct request *req) {
    req->retry_after = 2;
    return problem_detail(req, NX_ERR_UNAVAILABLE, "the database is unavailable; retry later");
}

enum nx_err idempotency_run(struct request *req, struct response *res, route_handler handler) {
    char scope[SCOPE_MAX];
    bool taken = false;
    struct db *db = db_thread(req->request_id);
    if (!db)
        return db_unavailable(req);
    scope_of(req, scope);
    int64_t lock = lock_key(scope, req->path, req->idem_key);
    if (waiting_elsewhere(req, lock))
        return in_progress(req);
    enum nx_err e = take_lock(db, req, lock, &taken);
    if (e == NX_OK && !taken)
        e = busy_or_replay(req, res, db, scope);
    else if (e == NX_OK) {
        /* Looked at again under the lock: the mark may have come between. */
        if (waiting_elsewhere(req, lock))
            e = in_progress(req);
        else {
            e = run_locked(req, res, handler, db, scope);
            waiting_update(req, lock);
        }
        /* A lock left held would refuse this key until the connection
         * ends: close the connection rather. */
        if (idempotency_unlock(db, lock) != NX_OK)
            db_disconnect(db);
    }
    if (e == NX_ERR_UNAVAILABLE && !req->detail[0] && !fielderr_count(&req->field_errors))
        db_unavailable(req);
    return e;
}

/* ---- keys claimed while an upload arrives --------------------------------- */

/* How long a claim outlives its request should its server stop: the
 * whole request arrives within REQUEST_TIMEOUT, and its handler then
 * answers (replacing the claim) within a statement or two. */
static int claim_ttl(void) {
    return nx_config->request_timeout + 60;
}

/* An upload's body takes up to REQUEST_TIMEOUT to arrive, and its key is
 * taken only once it has: a repeat sent meanwhile would read its own body
 * and run beside it. So the key is claimed when the headers are in (a
 * row in PostgreSQL, seen by every instance), and a repeat then is the
 * 409 of a request still running, before a byte of its body is read. A
 * key already answered is no claim: its repeat reads its body, for the
 * fingerprint, and is answered the kept answer or the 422 when it runs. */
static enum nx_err claim_upload(struct request *req) {
    char scope[SCOPE_MAX], token[sizeof req->idem_claim];
    unsigned char bytes[(sizeof token - 1) / 2];
    enum idem_holder holder = IDEM_RUNNING;
    struct db *db = db_thread(req->request_id);
    if (!db)
        return db_unavailable(req);
    scope_of(req, scope);
    randombytes_buf(bytes, sizeof bytes);
    sodium_bin2hex(token, sizeof token, bytes, sizeof bytes);
    enum nx_err e =
        idempotency_claim(db, scope, req->path, req->idem_key, token, claim_ttl(), &holder);
    if (e != NX_OK)
        return e == NX_ERR_UNAVAILABLE ? db_unavailable(req) : e;
    if (holder == IDEM_RUNNING)
        return in_progress(req);
    if (holder == IDEM_CLAIMED)
        memcpy(req->idem_claim, token, sizeof token);
    return NX_OK;
}

/* The request ends: a claim its answer did not replace is let go, so that
 * a retry runs (a failure of the server's, a 413, a client gone before
 * its body was in: nothing is kept for those). One that cannot be let
 * go now expires (claim_ttl). */
static void claim_end(struct request *req) {
    char scope[SCOPE_MAX];
    if (!req->idem_claim[0])
        return;
    struct db *db = db_thread(req->request_id);
    scope_of(req, scope);
    if (!db || idempotency_release(db, scope, req->path, req->idem_key, req->idem_claim) != NX_OK)
        log_warn("idempotency.release", req->request_id,
                 "the key's claim was not let go; it expires in %d s", claim_ttl());
    req->idem_claim[0] = '\0';
    db_thread_release();
}

void idempotency_request_end(struct request *req) {
    waiting_lift(req);
    claim_end(req);
}
