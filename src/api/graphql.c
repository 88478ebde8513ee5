/*
 * graphql.c -- POST and GET /graphql (see graphql.h): the request's three
 * members, the graphql layer's stages, and the answer.
 */
#include "nexus/api/graphql.h"

#include "nexus/core/jsonpath.h"
#include "nexus/api/graphql_catalog.h"
#include "nexus/core/jsonw.h"
#include "nexus/db/db.h"
#include "nexus/graphql/coerce.h"
#include "nexus/graphql/doccache.h"
#include "nexus/graphql/exec.h"
#include "nexus/graphql/limits.h"
#include "nexus/graphql/parse.h"
#include "nexus/graphql/validate.h"
#include "nexus/http/problem.h"

#include <stdlib.h>
#include <string.h>

/* What a request asks: borrowed from the request (its body's JSON, which
 * body owns, or its query parameters). */
struct gql_request {
    const char *query;
    size_t query_len;
    const char *operation_name; /* NULL: none */
    json_t *variables;          /* owned; NULL: none */
    json_t *body;               /* owned (POST) */
    char *name_copy;            /* owned (GET: operationName NUL-terminated) */
};

static void gql_request_clear(struct gql_request *g) {
    json_decref(g->variables);
    json_decref(g->body);
    free(g->name_copy);
}

/* A request error: one error without locations. */
static void request_error(struct gql_errors *errs, const char *message) {
    gql_error_add(errs, GQL_CODE_BAD_INPUT, NULL, "%s", message);
}

/* JSON (a POST body, GET's variables) that does not load: as a REST
 * body's error, where the JSON stops reading; what names the JSON. */
static void json_error(struct gql_errors *errs, const char *what, const json_error_t *err) {
    enum json_error_code code = json_error_code(err);
    char message[160];
    snprintf(message, sizeof message, "%s%s at line %d, column %d", what,
             code == json_error_null_character || code == json_error_null_byte_in_key
                 ? "a string holds a NUL character (\\u0000), which no GraphQL value may,"
             : code == json_error_numeric_overflow
                 ? "a number is out of range (past a double), which no GraphQL value may be,"
                 : jsonpath_fault(err),
             err->line, err->column);
    request_error(errs, message);
}

static bool read_post(struct request *req, struct gql_request *g, struct gql_errors *errs) {
    json_error_t err;
    if (req->body.len == 0)
        return request_error(errs, "the body must be a JSON object with a \"query\""), false;
    g->body = jsonpath_load_wide(req->body.data, req->body.len,
                                 JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!g->body)
        return json_error(errs, "", &err), false;
    if (!json_is_object(g->body))
        return request_error(errs, "the body must be a JSON object with a \"query\""), false;
    const json_t *q = json_object_get(g->body, "query");
    const json_t *name = json_object_get(g->body, "operationName");
    const json_t *vars = json_object_get(g->body, "variables");
    if (!json_is_string(q))
        return request_error(errs, "\"query\" must be a string"), false;
    if (name && !json_is_null(name) && !json_is_string(name))
        return request_error(errs, "\"operationName\" must be a string or null"), false;
    if (vars && !json_is_null(vars) && !json_is_object(vars))
        return request_error(errs, "\"variables\" must be an object or null"), false;
    g->query = json_string_value(q);
    g->query_len = json_string_length(q);
    g->operation_name = json_string_value(name);
    g->variables = json_is_object(vars) ? json_incref((json_t *)vars) : NULL;
    return true;
}

static bool read_get(struct request *req, struct gql_request *g, struct gql_errors *errs) {
    struct slice q, name, vars;
    if (request_query(req, "query", &q) != NX_OK ||
        request_query(req, "operationName", &name) != NX_OK ||
        request_query(req, "variables", &vars) != NX_OK)
        return request_error(errs, req->detail), false;
    if (!q.ptr)
        return request_error(errs, "the query parameter \"query\" is required"), false;
    g->query = q.ptr;
    g->query_len = q.len;
    if (name.ptr) /* given empty, it names no operation */
        g->operation_name = g->name_copy = xstrndup(name.ptr, name.len);
    if (vars.ptr && vars.len) {
        json_error_t err;
        g->variables =
            jsonpath_load_wide(vars.ptr, vars.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
        if (!g->variables)
            return json_error(errs, "\"variables\": ", &err), false;
        if (json_is_null(g->variables)) { /* as "variables": null in a POST */
            json_decref(g->variables);
            g->variables = NULL;
        } else if (!json_is_object(g->variables))
            return request_error(errs, "\"variables\" must be a JSON object"), false;
    }
    return true;
}

/* The integer a variable holds, for the cost of `first: $n`. */
static bool int_variable(void *ctx, const char *name, long long *value) {
    const json_t *v = json_object_get(ctx, name);
    if (json_is_null(v)) {
        *value = GQL_VARIABLE_NULL;
        return true;
    }
    if (!json_is_integer(v))
        return false;
    *value = json_integer_value(v);
    return true;
}

/* The stages before execution that depend on the request (doc is parsed
 * and validated): the operation and its variables, or NULL with errors. */
static const struct gql_definition *prepare(const struct gql_document *doc,
                                            const struct gql_request *g, json_t **vars,
                                            struct gql_errors *errs) {
    struct gql_measure m;
    const struct gql_definition *op = gql_operation(doc, g->operation_name, errs);
    if (op)
        *vars = gql_coerce_variables(op, g->variables, errs);
    if (op && *vars && gql_check_limits(doc, op, int_variable, *vars, &m, errs))
        return op;
    return NULL;
}

static json_t *errors_json(const struct gql_errors *errs) {
    json_t *list = json_array();
    for (size_t i = 0; i < errs->count; i++) {
        const struct gql_error *e = &errs->items[i];
        json_t *obj = json_pack("{s:s}", "message", e->message);
        if (e->loc_count) {
            json_t *locs = json_array();
            for (size_t k = 0; k < e->loc_count; k++)
                json_array_append_new(locs, json_pack("{s:i, s:i}", "line", (int)e->locs[k].line,
                                                      "column", (int)e->locs[k].column));
            json_object_set_new(obj, "locations", locs);
        }
        if (e->path)
            json_object_set_new(obj, "path", json_loads(e->path, 0, NULL));
        json_object_set_new(obj, "extensions", json_pack("{s:s}", "code", e->code));
        json_array_append_new(list, obj);
    }
    return list;
}

/* What the data buffer starts with: the answer when there are no
 * errors, so that the executor writes straight into it. */
static const char DATA_KEY[] = "{\"data\":";
#define DATA_KEY_LEN (sizeof DATA_KEY - 1)

/* 200 {[errors, ]data} when it ran (data: DATA_KEY and its JSON text),
 * else 400 {errors}. */
static void respond(struct response *res, struct buf *data, const struct gql_errors *errs) {
    if (data && !errs->count) {
        size_t len;
        buf_append(data, "}", 1);
        char *text = buf_take(data, &len);
        response_take(res, 200, "application/json", text, len);
        res->no_store = false;
        return;
    }
    struct jsonw w = {0};
    jsonw_object_open(&w);
    if (errs->count) {
        json_t *list = errors_json(errs);
        jsonw_key(&w, "errors");
        jsonw_value(&w, list);
        json_decref(list);
    }
    if (data) {
        jsonw_key(&w, "data");
        jsonw_raw(&w, data->data + DATA_KEY_LEN, data->len - DATA_KEY_LEN);
    }
    jsonw_object_close(&w);
    size_t len;
    char *text = jsonw_take(&w, &len);
    response_take(res, data ? 200 : 400, "application/json", text, len);
    res->no_store = errs->count > 0;
}

/* The operation's `data`, written into data; false when a field failed
 * for the database. */
static bool run(struct request *req, const struct gql_document *doc,
                const struct gql_definition *op, const json_t *vars, struct gql_errors *errs,
                struct buf *data) {
    struct gql_catalog catalog;
    size_t n;
    gql_catalog_init(&catalog, req);
    const struct gql_resolver *resolvers = gql_catalog_resolvers(&n);
    struct gql_exec exec = {.doc = doc,
                            .operation = op,
                            .variables = vars,
                            .resolvers = resolvers,
                            .resolver_count = n,
                            .ctx = &catalog};
    gql_execute_text(&exec, errs, data);
    gql_catalog_clear(&catalog);
    return !catalog.db_failed;
}

enum nx_err api_graphql(struct request *req, struct response *res) {
    struct gql_request g = {0};
    struct gql_errors errs = {0};
    const struct gql_document *doc = NULL;
    const struct gql_definition *op = NULL;
    json_t *vars = NULL;
    struct buf data = {0};
    bool read = req->method == HTTP_POST ? read_post(req, &g, &errs) : read_get(req, &g, &errs);
    if (read)
        doc = gql_doc_cached(g.query, g.query_len, &errs); /* the thread's: not freed here */
    if (doc)
        op = prepare(doc, &g, &vars, &errs);
    bool db_ok = true;
    if (op) {
        buf_reserve(&data, 16384); /* a page of products, without growing */
        buf_append(&data, DATA_KEY, DATA_KEY_LEN);
        db_ok = run(req, doc, op, vars, &errs, &data);
    }
    /* A read the replica failed (it went away, or recovery cancelled a
     * statement) runs again on the primary, as REST's do (http/server.c):
     * the replica never fails a read. */
    bool again = !db_ok && db_thread_reads_replica();
    if (!again)
        respond(res, op ? &data : NULL, &errs);
    buf_clear(&data);
    json_decref(vars);
    gql_errors_clear(&errs);
    gql_request_clear(&g);
    return again ? problem_detail(req, NX_ERR_UNAVAILABLE, "the read replica failed") : NX_OK;
}
