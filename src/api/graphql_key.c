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
 *
 * A page sends the same document again and again (other variables at
 * most), so each thread remembers the normal forms of the last documents
 * it keyed, by their exact text: a cached answer is found without lexing,
 * and, for a request of the document alone (no operationName, no
 * variables), without hashing.
 */
#include "nexus/api/graphql.h"
#include "nexus/core/jsonpath.h"

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

/* The last documents this thread keyed: fixed slots in thread-local
 * storage (nothing to free when the thread ends), replaced in turn; a
 * document or normal form larger than a slot is not remembered. */
#define MEMO_SLOTS 8
#define MEMO_TEXT  2048
#define MEMO_FORM  4096

#define HASH_HEX (2 * crypto_generichash_BYTES + 1)

struct memo_slot {
    size_t text_len; /* 0: empty */
    size_t form_len;
    bool cacheable;
    bool has_plain; /* plain holds the hash of a request with the document alone */
    char plain[HASH_HEX];
    char text[MEMO_TEXT];
    char form[MEMO_FORM];
};

static _Thread_local struct memo_slot memo[MEMO_SLOTS];
static _Thread_local unsigned memo_next;

static void remember(const char *src, size_t len, bool cacheable, const char *form,
                     size_t form_len) {
    if (len == 0 || len > MEMO_TEXT || form_len > MEMO_FORM)
        return;
    struct memo_slot *m = &memo[memo_next++ % MEMO_SLOTS];
    memcpy(m->text, src, len);
    m->text_len = len;
    m->cacheable = cacheable;
    m->has_plain = false;
    m->form_len = cacheable ? form_len : 0;
    if (cacheable)
        memcpy(m->form, form, form_len);
}

/* This thread's slot for the document src, or NULL. */
static struct memo_slot *memo_find(const char *src, size_t len) {
    for (size_t i = 0; i < MEMO_SLOTS; i++) {
        struct memo_slot *m = &memo[i];
        if (m->text_len == len && len > 0 && memcmp(m->text, src, len) == 0)
            return m;
    }
    return NULL;
}

/* normal_form, answered from this thread's memory when it can be. */
static bool remembered_normal_form(const char *src, size_t len, struct buf *out) {
    const struct memo_slot *m = memo_find(src, len);
    if (m) {
        if (m->cacheable)
            buf_append(out, m->form, m->form_len);
        return m->cacheable;
    }
    size_t start = out->len;
    bool ok = normal_form(src, len, out);
    remember(src, len, ok, ok ? out->data + start : NULL, ok ? out->len - start : 0);
    return ok;
}

/* The variables as JSON with sorted keys ("" without any, and for null,
 * which the request runs as none); false for what is no object. */
static bool canonical_variables(struct slice v, struct buf *out) {
    if (!v.ptr || v.len == 0)
        return true;
    json_t *vars = jsonpath_load_wide(v.ptr, v.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    bool none = json_is_null(vars);
    char *text = json_is_object(vars) ? json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(vars);
    if (text)
        buf_puts(out, text);
    free(text);
    return none || text != NULL;
}

/* The key of a request: its role and the hash of text. */
static void key_of(const struct request *req, const char *hex, struct buf *out) {
    buf_puts(out, req->principal.role >= ACCESS_STAFF ? "1" : "0");
    buf_puts(out, " GET /graphql ");
    buf_puts(out, hex);
}

static void hash_hex(const struct buf *text, char hex[HASH_HEX]) {
    unsigned char hash[crypto_generichash_BYTES];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)text->data, text->len, NULL, 0);
    sodium_bin2hex(hex, HASH_HEX, hash, sizeof hash);
}

bool graphql_cache_key(struct request *req, struct buf *out) {
    struct slice query, name, vars;
    struct buf text = {0};
    bool ok = request_query(req, "query", &query) == NX_OK && query.ptr &&
              request_query(req, "operationName", &name) == NX_OK &&
              request_query(req, "variables", &vars) == NX_OK;
    /* an empty operationName names no operation (a 400): not to be
     * answered from the entry of the same document without one */
    if (ok && name.ptr && name.len == 0)
        return false;
    /* The document alone (most requests of a page): its hash remembered
     * with its normal form, so that a cached answer costs no hashing. */
    bool plain = ok && name.len == 0 && vars.len == 0;
    struct memo_slot *m = plain ? memo_find(query.ptr, query.len) : NULL;
    if (m && (m->has_plain || !m->cacheable)) {
        if (m->cacheable)
            key_of(req, m->plain, out);
        return m->cacheable;
    }
    if (ok) {
        buf_printf(&text, "%zu:", name.len); /* lengths first: no two requests alike */
        buf_append(&text, name.ptr ? name.ptr : "", name.len);
        ok = canonical_variables(vars, &text);
        buf_append(&text, "\n", 1);
    }
    ok = ok && remembered_normal_form(query.ptr, query.len, &text);
    if (ok) {
        char hex[HASH_HEX];
        hash_hex(&text, hex);
        key_of(req, hex, out);
        m = plain ? memo_find(query.ptr, query.len) : NULL; /* remembered just now */
        if (m) {
            memcpy(m->plain, hex, sizeof hex);
            m->has_plain = true;
        }
    }
    buf_clear(&text);
    return ok;
}
