/*
 * imports.c -- bulk product imports over HTTP.
 *
 * The upload is never held whole: its pieces are collected up to
 * CHUNK_BYTES and stored as import_chunks rows as they arrive, each in a
 * statement of its own (a request holds the thread's connection only
 * while one of its steps runs). The import row stays 'uploading' until
 * the request completes; the handler then queues it and its job in one
 * transaction. Uploads that never complete are deleted by the worker.
 */
#include "nexus/api/imports.h"

#include "nexus/api/common.h"
#include "nexus/api/listing.h"
#include "nexus/core/config.h"
#include "nexus/core/parse.h"
#include "nexus/db/imports.h"
#include "nexus/http/guard.h"
#include "nexus/http/idempotency.h"
#include "nexus/http/problem.h"
#include "nexus/jobs/queue.h"
#include "nexus/model/import_row.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES (512u * 1024u)
#define ERRORS_PAGE "500"

static const char *const IMPORT_SORTS[] = {"-created_at", "created_at"};
static const struct list_spec IMPORT_LIST = {"imports", IMPORT_SORTS, 2, 0};

struct upload {
    const char *format, *mode, *atomic; /* literals */
    char id[24];                        /* "" until the import row exists */
    struct buf pending;
    int seq;
    unsigned long long bytes;
    bool looked_for_kept; /* whether its key's answer was looked for */
    bool not_stored;      /* a repeat of a keyed upload: only read */
};

static void upload_free(void *p) {
    struct upload *u = p;
    buf_clear(&u->pending);
    free(u);
}

static enum nx_err too_large(struct request *req) {
    req->close_connection = true;
    return problem_detail(req, NX_ERR_TOO_LARGE, "the upload exceeds %d bytes",
                          nx_config->import_max_bytes);
}

/* mode and atomic, from the query. */
static enum nx_err read_query(struct request *req, struct upload *u) {
    struct slice mode, atomic;
    enum nx_err e = request_query(req, "mode", &mode);
    if (e == NX_OK)
        e = request_query(req, "atomic", &atomic);
    if (e != NX_OK)
        return e;
    bool is_atomic = false;
    if (!mode.ptr || (mode.len == 6 && memcmp(mode.ptr, "upsert", 6) == 0))
        u->mode = "upsert";
    else if (mode.len == 6 && memcmp(mode.ptr, "create", 6) == 0)
        u->mode = "create";
    else
        return problem_detail(req, NX_ERR_BAD_REQUEST, "mode must be upsert or create");
    /* an empty boolean parameter is ignored, as an empty filter is */
    if (atomic.ptr && atomic.len && !parse_bool(atomic.ptr, atomic.len, &is_atomic))
        return problem_detail(req, NX_ERR_BAD_REQUEST, "atomic must be true or false");
    u->atomic = is_atomic ? "true" : "false";
    return NX_OK;
}

/* The headers are in: content type, declared size, query. */
static enum nx_err upload_begin(struct request *req) {
    const char *type = request_header(req, "Content-Type");
    const char *format = content_type_is(type, "application/x-ndjson") ? "ndjson"
                         : content_type_is(type, "text/csv")           ? "csv"
                                                                       : NULL;
    if (!format)
        return problem_detail(req, NX_ERR_UNSUPPORTED_TYPE,
                              "the upload must be application/x-ndjson or text/csv (UTF-8)");
    const char *cl = request_header(req, "Content-Length");
    if (cl && cl[0]) {
        char *end = NULL;
        errno = 0;
        unsigned long long declared = strtoull(cl, &end, 10);
        if (errno == ERANGE || declared > (unsigned long long)nx_config->import_max_bytes)
            return too_large(req);
    }
    struct upload *u = xcalloc(1, sizeof *u);
    u->format = format;
    req->upload = u;
    req->upload_free = upload_free;
    return read_query(req, u);
}

/* Whether the upload is a repeat whose key has an answer kept (looked up
 * before its first chunk is stored): it will be answered that (or a 422),
 * so its body is read for its fingerprint but not stored. */
static bool repeat_of_kept(struct request *req, struct upload *u) {
    if (!u->looked_for_kept && !u->id[0]) {
        u->looked_for_kept = true;
        u->not_stored = idempotency_answer_kept(req);
    }
    return u->not_stored;
}

/* Store what was collected as the next chunk (the import row first). */
static enum nx_err store_pending(struct request *req, struct upload *u) {
    struct db *db = NULL;
    char user[24];
    if (repeat_of_kept(req, u)) {
        u->pending.len = 0;
        return NX_OK;
    }
    enum nx_err e = api_db(req, &db);
    snprintf(user, sizeof user, "%lld", (long long)req->principal.user_id);
    if (e == NX_OK && !u->id[0])
        e = imports_create(db, user, u->format, u->mode, u->atomic, u->id);
    if (e != NX_OK || u->pending.len == 0)
        return e;
    size_t hex_len = 2 * u->pending.len + 3;
    char *hex = xmalloc(hex_len);
    hex[0] = '\\';
    hex[1] = 'x';
    sodium_bin2hex(hex + 2, hex_len - 2, (const unsigned char *)u->pending.data, u->pending.len);
    e = imports_put_chunk(db, u->id, u->seq++, hex);
    free(hex);
    u->pending.len = 0;
    return e;
}

enum nx_err api_imports_upload(struct request *req, const char *data, size_t len) {
    struct upload *u = req->upload;
    if (!data)
        return upload_begin(req);
    u->bytes += len;
    if (u->bytes > (unsigned long long)nx_config->import_max_bytes)
        return too_large(req);
    buf_append(&u->pending, data, len);
    return u->pending.len >= CHUNK_BYTES ? store_pending(req, u) : NX_OK;
}

/* The first NX_IMPORT_ERRORS_SHOWN errors of import id, as a JSON array. */
static enum nx_err first_errors(struct db *db, const char *id, json_t **out) {
    PGresult *r = NULL;
    enum nx_err e = imports_errors(db, id, "0", NX_IMPORT_ERRORS_SHOWN, &r);
    *out = json_array();
    for (int i = 0; e == NX_OK && i < PQntuples(r); i++)
        json_array_append_new(*out, import_error_to_json(r, i));
    PQclear(r);
    return e;
}

enum nx_err api_imports_create(struct request *req, struct response *res) {
    struct upload *u = req->upload;
    struct db *db = NULL;
    PGresult *r = NULL;
    char bytes[24];
    json_t *payload = NULL;
    if (u->not_stored) { /* the key's kept answer went (24 hours) as it was read */
        req->retry_after = 1;
        return problem_detail(req, NX_ERR_UNAVAILABLE,
                              "the upload was read as a repeat and not kept; send it again");
    }
    u->looked_for_kept = true; /* it runs: no answer is kept for its key */
    enum nx_err e = store_pending(req, u);
    snprintf(bytes, sizeof bytes, "%llu", u->bytes);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = db_begin(db);
    if (e == NX_OK)
        e = imports_queue(db, u->id, bytes, &r);
    if (e == NX_OK && PQntuples(r) != 1)
        e = NX_ERR_INTERNAL;
    if (e == NX_OK) {
        payload = json_pack("{s:I}", "import_id", (json_int_t)strtoll(u->id, NULL, 10));
        e = queue_enqueue(db, "import", payload, NULL, nx_config->job_max_attempts);
    }
    if (e == NX_OK)
        e = db_commit(db);
    if (e == NX_OK) {
        char location[64];
        snprintf(location, sizeof location, "/api/v1/imports/%s", u->id);
        json_t *obj = import_to_json(r, 0, json_array());
        response_json(res, 202, obj);
        json_decref(obj);
        response_header(res, "Location", location);
    }
    if (db)
        db_rollback(db);
    json_decref(payload);
    PQclear(r);
    return e;
}

/* A list item: the import with its first errors, as the item shows them. */
static json_t *import_item(const PGresult *r, int row) {
    json_t *errors = json_loads(PQgetvalue(r, row, IMC_FIRST_ERRORS), 0, NULL);
    if (!json_is_array(errors)) {
        json_decref(errors);
        errors = json_array();
    }
    return import_to_json(r, row, errors);
}

static enum nx_err imports_page(struct db *db, const void *filter, size_t sort,
                                const char *after_value, const char *after_id, const char *limit,
                                PGresult **out) {
    (void)filter; /* the imports list has no filters */
    return imports_list(db, (enum import_sort)sort, after_value, after_id, limit, out);
}

static enum nx_err imports_total(struct db *db, const void *filter, long long *total) {
    (void)filter;
    return imports_count(db, total);
}

enum nx_err api_imports_list(struct request *req, struct response *res) {
    static const int value_cols[] = {IMC_CREATED_AT, IMC_CREATED_AT};
    static const struct list_table table = {imports_page, imports_total, import_item, value_cols,
                                            IMC_ID};
    return list_serve_table(req, res, &IMPORT_LIST, &table, NULL, "");
}

/* The prologue of a request about one import: its id from the path, the
 * thread's connection, and the import (*r, one row), or a 404. */
static enum nx_err load_import(struct request *req, char id[24], struct db **db, PGresult **r) {
    enum nx_err e = api_path_id(req, 0, id);
    if (e == NX_OK)
        e = api_db(req, db);
    if (e == NX_OK)
        e = imports_get(*db, id, r);
    if (e == NX_OK && PQntuples(*r) == 0)
        e = problem_detail(req, NX_ERR_NOT_FOUND, "no such import");
    return e;
}

enum nx_err api_imports_get(struct request *req, struct response *res) {
    struct db *db = NULL;
    PGresult *r = NULL;
    json_t *errors = NULL;
    char id[24];
    enum nx_err e = load_import(req, id, &db, &r);
    if (e == NX_OK)
        e = first_errors(db, id, &errors);
    if (e == NX_OK) {
        api_ok(res, import_to_json(r, 0, errors));
        errors = NULL;
    }
    json_decref(errors);
    PQclear(r);
    return e;
}

/* ---- the errors, streamed ------------------------------------------------ */

/* Reads the errors a page at a time, after the last number sent, on the
 * thread's connection: memory is one page, whatever the count. */
struct error_stream {
    char id[24];
    long long after;
    struct buf out;
    size_t sent;
    bool done;
};

static void error_stream_free(void *p) {
    struct error_stream *s = p;
    buf_clear(&s->out);
    free(s);
}

static enum nx_err next_page(struct error_stream *s) {
    char after[24];
    PGresult *r = NULL;
    struct db *db = db_thread(NULL);
    if (!db)
        return NX_ERR_UNAVAILABLE;
    snprintf(after, sizeof after, "%lld", s->after);
    enum nx_err e = imports_errors(db, s->id, after, ERRORS_PAGE, &r);
    s->out.len = 0;
    s->sent = 0;
    for (int i = 0; e == NX_OK && i < PQntuples(r); i++) {
        json_t *line = import_error_to_json(r, i);
        char *text = json_dumps(line, JSON_COMPACT);
        buf_puts(&s->out, text);
        buf_puts(&s->out, "\n");
        free(text);
        json_decref(line);
        s->after = strtoll(PQgetvalue(r, i, 3), NULL, 10);
    }
    s->done = e == NX_OK && PQntuples(r) == 0;
    PQclear(r);
    return e;
}

static long error_stream_read(void *ctx, char *out, size_t max) {
    struct error_stream *s = ctx;
    if (s->sent == s->out.len && !s->done && next_page(s) != NX_OK)
        return -1;
    size_t n = s->out.len - s->sent < max ? s->out.len - s->sent : max;
    memcpy(out, s->out.data + s->sent, n);
    s->sent += n;
    return (long)n;
}

enum nx_err api_imports_errors(struct request *req, struct response *res) {
    struct db *db = NULL;
    PGresult *r = NULL;
    char id[24];
    enum nx_err e = load_import(req, id, &db, &r);
    PQclear(r);
    if (e != NX_OK)
        return e;
    struct error_stream *s = xcalloc(1, sizeof *s);
    memcpy(s->id, id, sizeof id);
    response_stream(res, 200, "application/x-ndjson", error_stream_read, s, error_stream_free);
    return NX_OK;
}
