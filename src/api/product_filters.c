/*
 * product_filters.c -- the query parameters of GET /products, checked and
 * turned into a product_filter plus the canonical text a cursor is bound
 * to.
 */
#include "nexus/api/product_filters.h"

#include "nexus/core/parse.h"
#include "nexus/db/categories.h"
#include "nexus/http/problem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q_MAX 200

/* A present, non-empty query value; empty values are ignored. */
static enum nx_err query_value(struct request *req, const char *name, struct slice *v) {
    enum nx_err e = request_query(req, name, v);
    if (e == NX_OK && v->ptr && v->len == 0)
        v->ptr = NULL;
    return e;
}

static bool is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

enum nx_err category_key(struct request *req, const char *param, struct slice v, char *out,
                         size_t cap, bool *by_slug) {
    int64_t id;
    *by_slug = !parse_id(v.ptr, v.len, &id);
    for (size_t i = 0; i < v.len; i++)
        if (!is_key_char(v.ptr[i]))
            return problem_detail(req, NX_ERR_BAD_REQUEST, "%s must be a category id or slug",
                                  param);
    if (v.len >= cap) { /* well-formed, but longer than any slug: matches nothing */
        memcpy(out, "-", 2);
        return NX_OK;
    }
    memcpy(out, v.ptr, v.len);
    out[v.len] = '\0';
    return NX_OK;
}

static enum nx_err parse_category(struct request *req, struct db *db, struct product_query *q) {
    struct slice v;
    char key[128], id[24];
    bool by_slug;
    enum nx_err e = query_value(req, "category", &v);
    if (e != NX_OK || !v.ptr)
        return e;
    if ((e = category_key(req, "category", v, key, sizeof key, &by_slug)) != NX_OK)
        return e;
    buf_printf(&q->canonical, "&category=%s", key);
    if ((e = categories_resolve(db, key, by_slug, id)) != NX_OK)
        return e;
    if (!id[0]) {
        q->matches_nothing = true;
        return NX_OK;
    }
    e = categories_subtree(db, id, &q->category_ids);
    q->filter.category_ids = q->category_ids;
    return e;
}

static enum nx_err parse_price(struct request *req, const char *name, char *out, size_t cap,
                               const char **target, struct buf *canonical) {
    struct slice v;
    int64_t cents;
    enum nx_err e = query_value(req, name, &v);
    if (e != NX_OK || !v.ptr)
        return e;
    if (!parse_money(v.ptr, v.len, &cents))
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "%s must be a decimal such as 19.99 (at most two decimals)", name);
    snprintf(out, cap, "%lld", (long long)cents);
    *target = out;
    buf_printf(canonical, "&%s=%s", name, out);
    return NX_OK;
}

static enum nx_err parse_bool_param(struct request *req, const char *name, int *out,
                                    struct buf *canonical) {
    struct slice v;
    bool b;
    enum nx_err e = query_value(req, name, &v);
    if (e != NX_OK || !v.ptr)
        return e;
    if (!parse_bool(v.ptr, v.len, &b))
        return problem_detail(req, NX_ERR_BAD_REQUEST, "%s must be true or false", name);
    *out = b;
    buf_printf(canonical, "&%s=%d", name, b);
    return NX_OK;
}

static enum nx_err parse_currency(struct request *req, struct product_query *q) {
    struct slice v;
    enum nx_err e = query_value(req, "currency", &v);
    if (e != NX_OK || !v.ptr)
        return e;
    if (v.len != 3)
        return problem_detail(req, NX_ERR_BAD_REQUEST, "currency must be a 3-letter code");
    for (size_t i = 0; i < 3; i++) {
        char c = v.ptr[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c < 'A' || c > 'Z')
            return problem_detail(req, NX_ERR_BAD_REQUEST, "currency must be a 3-letter code");
        q->currency[i] = c;
    }
    q->currency[3] = '\0';
    q->filter.currency = q->currency;
    buf_printf(&q->canonical, "&currency=%s", q->currency);
    return NX_OK;
}

/* "%word%" with LIKE's wildcards and escape character taken literally. */
static void like_pattern(struct buf *out, const char *word, size_t len) {
    buf_append(out, "%", 1);
    for (size_t i = 0; i < len; i++) {
        if (word[i] == '%' || word[i] == '_' || word[i] == '\\')
            buf_append(out, "\\", 1);
        buf_append(out, &word[i], 1);
    }
    buf_append(out, "%", 1);
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Whether pg_trgm can look the word up: it needs a trigram, three word
 * characters in a row (ASCII letters and digits; a character outside ASCII
 * counts as a letter, as it does in a UTF-8 locale). */
static bool has_trigram(const char *word, size_t len) {
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)word[i];
        if ((c & 0xC0) == 0x80) /* the rest of a multi-byte character */
            continue;
        bool letter =
            c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        run = letter ? run + 1 : 0;
        if (run == 3)
            return true;
    }
    return false;
}

/* Split q into words; words past the indexed ones go into one array
 * literal ("{"%a%","%b%"}") checked by ILIKE ALL. */
static void split_words(struct product_query *q, const char *s, size_t len) {
    struct buf extra = {0};
    size_t i = 0;
    while (i < len && q->filter.pattern_count < NX_SEARCH_WORDS_MAX) {
        while (i < len && is_space(s[i]))
            i++;
        size_t start = i;
        while (i < len && !is_space(s[i]))
            i++;
        if (i == start)
            break;
        struct buf pat = {0};
        like_pattern(&pat, s + start, i - start);
        if (q->filter.pattern_count < NX_SEARCH_WORDS_INDEXED) {
            q->filter.patterns[q->filter.pattern_count] = buf_take(&pat, NULL);
            if (!has_trigram(s + start, i - start))
                q->filter.short_words[q->filter.short_word_count++] =
                    xstrndup(s + start, i - start);
        } else {
            buf_puts(&extra, extra.len ? ",\"" : "{\"");
            for (size_t k = 0; k < pat.len; k++) { /* array element quoting */
                if (pat.data[k] == '"' || pat.data[k] == '\\')
                    buf_append(&extra, "\\", 1);
                buf_append(&extra, &pat.data[k], 1);
            }
            buf_append(&extra, "\"", 1);
            q->filter.patterns[q->filter.pattern_count] = buf_take(&pat, NULL);
        }
        q->filter.pattern_count++;
    }
    if (extra.len) {
        buf_puts(&extra, "}");
        q->extra_patterns = buf_take(&extra, NULL);
        q->filter.extra_patterns = q->extra_patterns;
    }
}

static enum nx_err parse_q(struct request *req, struct product_query *q) {
    struct slice v;
    enum nx_err e = query_value(req, "q", &v);
    if (e != NX_OK || !v.ptr)
        return e;
    if (v.len > Q_MAX * 4 || memchr(v.ptr, '\0', v.len))
        return problem_detail(req, NX_ERR_BAD_REQUEST, "q must be at most 200 characters");
    size_t chars = 0;
    for (size_t i = 0; i < v.len; i++)
        chars += ((unsigned char)v.ptr[i] & 0xC0) != 0x80;
    if (chars > Q_MAX)
        return problem_detail(req, NX_ERR_BAD_REQUEST, "q must be at most 200 characters");
    split_words(q, v.ptr, v.len);
    buf_printf(&q->canonical, "&q=%zu:", v.len); /* length first: q may hold '&' */
    buf_append(&q->canonical, v.ptr, v.len);
    return NX_OK;
}

enum nx_err product_query_parse(struct request *req, struct db *db, bool staff,
                                struct product_query *q) {
    int inactive = 0;
    memset(q, 0, sizeof *q);
    q->filter.in_stock = -1;
    enum nx_err e = parse_q(req, q);
    if (e == NX_OK)
        e = parse_price(req, "min_price", q->min, sizeof q->min, &q->filter.min_cents,
                        &q->canonical);
    if (e == NX_OK)
        e = parse_price(req, "max_price", q->max, sizeof q->max, &q->filter.max_cents,
                        &q->canonical);
    if (e == NX_OK)
        e = parse_bool_param(req, "in_stock", &q->filter.in_stock, &q->canonical);
    if (e == NX_OK)
        e = parse_currency(req, q);
    if (e == NX_OK)
        e = parse_bool_param(req, "include_inactive", &inactive, &q->canonical);
    q->filter.include_inactive = staff && inactive == 1;
    if (e == NX_OK)
        e = parse_category(req, db, q);
    buf_puts(&q->canonical, "");
    return e;
}

void product_query_clear(struct product_query *q) {
    for (size_t i = 0; i < q->filter.pattern_count; i++)
        free((void *)(uintptr_t)q->filter.patterns[i]);
    for (size_t i = 0; i < q->filter.short_word_count; i++)
        free((void *)(uintptr_t)q->filter.short_words[i]);
    free(q->extra_patterns);
    free(q->category_ids);
    buf_clear(&q->canonical);
}
