/*
 * graphql_key.c -- the cache key of GET /graphql (see graphql.h).
 *
 * The document is keyed on its tokens, not its text: each token re-printed
 * with one space between (strings as their decoded value in JSON), so
 * white space, commas and comments do not make new keys. What decides
 * that an answer may be shared is read from the tokens too, erring on the
 * side of not caching: a `me` name anywhere (a field, an alias or a
 * fragment's name), or `query` followed by a name at the top level (a named
 * operation).
 */
#include "nexus/api/graphql.h"

#include "nexus/graphql/lexer.h"

#include <sodium.h>
#include <string.h>

static bool is_name(const struct gql_token *t, const char *name) {
    return t->kind == GQL_TOK_NAME && t->len == strlen(name) && memcmp(t->start, name, t->len) == 0;
}

/* The document's normal form into out; false when it is not to be cached. */
static bool normal_form(const char *src, size_t len, struct buf *out) {
    struct gql_arena arena = {0};
    struct gql_errors errs = {0};
    struct gql_lexer lx;
    struct gql_token t, prev = {.kind = GQL_TOK_EOF};
    int depth = 0;
    bool ok = gql_lexer_init(&lx, src, len, &arena, &errs);
    while (ok && (ok = gql_lex(&lx, &t)) && t.kind != GQL_TOK_EOF) {
        if (is_name(&t, "me") || (depth == 0 && is_name(&prev, "query") && t.kind == GQL_TOK_NAME))
            ok = false;
        depth += t.kind == GQL_TOK_BRACE_L ? 1 : t.kind == GQL_TOK_BRACE_R ? -1 : 0;
        if (t.kind == GQL_TOK_STRING || t.kind == GQL_TOK_BLOCK_STRING) {
            json_t *s = json_stringn(t.value, t.value_len);
            char *quoted = json_dumps(s, JSON_ENCODE_ANY);
            buf_printf(out, " %s", quoted ? quoted : "");
            free(quoted);
            json_decref(s);
        } else {
            buf_puts(out, " ");
            buf_append(out, t.start, t.len);
        }
        prev = t;
    }
    gql_errors_clear(&errs);
    gql_arena_free(&arena);
    return ok;
}

/* The variables as JSON with sorted keys ("" without any). */
static bool canonical_variables(struct slice v, struct buf *out) {
    if (!v.ptr || v.len == 0)
        return true;
    json_t *vars = json_loadb(v.ptr, v.len, JSON_REJECT_DUPLICATES, NULL);
    char *text = json_is_object(vars) ? json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(vars);
    if (text)
        buf_puts(out, text);
    free(text);
    return text != NULL;
}

bool graphql_cache_key(struct request *req, struct buf *out) {
    struct slice query, name, vars;
    struct buf text = {0};
    bool ok = request_query(req, "query", &query) == NX_OK && query.ptr &&
              request_query(req, "operationName", &name) == NX_OK &&
              request_query(req, "variables", &vars) == NX_OK;
    if (ok) {
        buf_printf(&text, "%zu:", name.len); /* lengths first: no two requests alike */
        buf_append(&text, name.ptr ? name.ptr : "", name.len);
        ok = canonical_variables(vars, &text);
        buf_append(&text, "\n", 1);
    }
    ok = ok && normal_form(query.ptr, query.len, &text);
    if (ok) {
        unsigned char hash[crypto_generichash_BYTES];
        char hex[2 * sizeof hash + 1];
        crypto_generichash(hash, sizeof hash, (const unsigned char *)text.data, text.len, NULL, 0);
        sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
        buf_printf(out, "%d GET /graphql %s", req->principal.role >= ACCESS_STAFF, hex);
    }
    buf_clear(&text);
    return ok;
}
