/*
 * product_filters.c -- the query parameters of GET /products, checked and
 * turned into a product_filter plus the canonical text a cursor is bound
 * to.
 */
#include "nexus/api/product_filters.h"

#include "nexus/api/listing.h"

#include "nexus/core/parse.h"
#include "nexus/core/valuelist.h"
#include "nexus/core/xmem.h"
#include "nexus/db/categories.h"
#include "nexus/http/problem.h"
#include "nexus/model/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q_MAX 200
/* Bytes of one attr.* or option.* value (a comma-separated list). */
#define DISCOVERY_VALUE_MAX 2000
#define OPTION_NAME_MAX     50 /* characters, as a variant's option names */
#define ATTRIBUTE_KEY_MAX   40

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
    enum nx_err e = list_filter_value(req, "category", &v);
    if (e != NX_OK || !v.ptr)
        return e;
    if ((e = category_key(req, "category", v, key, sizeof key, &by_slug)) != NX_OK)
        return e;
    if ((e = categories_resolve_subtree(db, key, by_slug, id, &q->category_ids)) != NX_OK)
        return e;
    /* by its id, whether given by slug or id: one category, one list */
    buf_printf(&q->canonical, "&category=%s", id[0] ? id : key);
    if (!id[0]) {
        q->matches_nothing = true;
        return NX_OK;
    }
    memcpy(q->category_id, id, sizeof q->category_id);
    q->filter.category_ids = q->category_ids;
    q->filter.category_id = q->category_id;
    return NX_OK;
}

static enum nx_err parse_price(struct request *req, const char *name, char *out, size_t cap,
                               const char **target, struct buf *canonical) {
    struct slice v;
    int64_t cents;
    enum nx_err e = list_filter_value(req, name, &v);
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

static enum nx_err parse_currency(struct request *req, struct product_query *q) {
    struct slice v;
    enum nx_err e = list_filter_value(req, "currency", &v);
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

/* sku: the products of which a live variant has exactly this SKU (as
 * SKUs are unique, compared case-sensitively). */
static enum nx_err parse_sku(struct request *req, struct product_query *q) {
    struct slice v;
    enum nx_err e = list_filter_value(req, "sku", &v);
    if (e != NX_OK || !v.ptr)
        return e;
    if (v.len < sizeof q->sku) {
        memcpy(q->sku, v.ptr, v.len);
        q->sku[v.len] = '\0';
    }
    if (v.len >= sizeof q->sku || !sku_is_valid(q->sku))
        return problem_detail(req, NX_ERR_BAD_REQUEST, "sku must be " SKU_RULE);
    q->filter.sku = q->sku;
    buf_printf(&q->canonical, "&sku=%s", q->sku);
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

/* The bytes of the white-space character at s (Unicode's White_Space:
 * ASCII's, NEL, no-break spaces, the typographic spaces, the ideographic
 * space a CJK keyboard types), 0 when s starts none. */
static size_t space_at(const char *s, size_t len) {
    static const char *const WIDE[] = {"\xc2\x85",     "\xc2\xa0",     "\xe1\x9a\x80",
                                       "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaf",
                                       "\xe2\x81\x9f", "\xe3\x80\x80"};
    unsigned char c = (unsigned char)s[0];
    if (c == ' ' || (c >= '\t' && c <= '\r'))
        return 1;
    if (len >= 3 && c == 0xe2 && (unsigned char)s[1] == 0x80 && (unsigned char)s[2] >= 0x80 &&
        (unsigned char)s[2] <= 0x8a) /* U+2000..U+200A */
        return 3;
    for (size_t i = 0; c >= 0xc2 && i < sizeof WIDE / sizeof WIDE[0]; i++) {
        size_t n = strlen(WIDE[i]);
        if (len >= n && memcmp(s, WIDE[i], n) == 0)
            return n;
    }
    return 0;
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

/* The characters of a UTF-8 word (its bytes but continuation bytes). */
static size_t characters(const char *word, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)word[i] & 0xC0) != 0x80;
    return n;
}

/* Split q into words; words past the indexed ones go into one array
 * literal ("{"%a%","%b%"}") checked by LIKE ALL, lowered. */
static void split_words(struct product_query *q, const char *s, size_t len) {
    struct buf extra = {0};
    size_t i = 0;
    while (i < len && q->filter.pattern_count < NX_SEARCH_WORDS_MAX) {
        size_t space;
        while (i < len && (space = space_at(s + i, len - i)) > 0)
            i += space;
        size_t start = i;
        while (i < len && space_at(s + i, len - i) == 0)
            i++;
        if (i == start)
            break;
        struct buf pat = {0};
        like_pattern(&pat, s + start, i - start);
        if (q->filter.pattern_count < NX_SEARCH_WORDS_INDEXED) {
            q->filter.patterns[q->filter.pattern_count] = buf_take(&pat, NULL);
            size_t n = q->filter.pattern_count, chars = characters(s + start, i - start);
            if (!has_trigram(s + start, i - start)) {
                q->filter.short_word_pattern[q->filter.short_word_count] = n;
                q->filter.short_words[q->filter.short_word_count++] =
                    xstrndup(s + start, i - start);
            }
            q->filter.keyed_exactly[n] = chars <= 2;
            q->filter.one_character[n] = chars == 1;
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
    enum nx_err e = list_filter_value(req, "q", &v);
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

/* ---- attr.* and option.* ------------------------------------------------ */

static char *keep(struct product_query *q, const char *s, size_t len) {
    NX_ASSERT(q->owned_count < sizeof q->owned / sizeof q->owned[0]);
    return q->owned[q->owned_count++] = xstrndup(s, len);
}

static bool is_attribute_key(const char *k, size_t n) {
    if (n < 1 || n > ATTRIBUTE_KEY_MAX || !(k[0] >= 'a' && k[0] <= 'z'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
            return false;
    return true;
}

/* A decimal number: -?digits(.digits)?, at most 40 characters. */
static bool is_number(struct slice v) {
    size_t i = 0, digits = 0;
    if (v.len > 40)
        return false;
    if (i < v.len && v.ptr[i] == '-')
        i++;
    for (; i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9'; i++)
        digits++;
    if (digits == 0)
        return false;
    if (i < v.len && v.ptr[i] == '.') {
        size_t frac = 0;
        for (i++; i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9'; i++)
            frac++;
        if (frac == 0)
            return false;
    }
    return i == v.len;
}

/* v1,v2,... (a backslash escapes ',' and '\' in a value): no empty
 * value, bounded in size; the values as a text[] literal (kept) into
 * *array, and their number into *count. */
static enum nx_err parse_list(struct request *req, struct product_query *q, const char *param,
                              struct slice v, const char **array, size_t *count) {
    if (v.len > DISCOVERY_VALUE_MAX)
        return problem_detail(req, NX_ERR_BAD_REQUEST, "%s must be at most %d bytes", param,
                              DISCOVERY_VALUE_MAX);
    struct buf literal = {0};
    enum valuelist_error error = valuelist_to_array(v.ptr, v.len, &literal, count);
    if (error == VALUELIST_OK)
        *array = keep(q, literal.data, literal.len);
    buf_clear(&literal);
    if (error == VALUELIST_EMPTY_VALUE)
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "%s must be a comma-separated list of non-empty values", param);
    if (error == VALUELIST_BAD_ESCAPE)
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "%s: a backslash escapes only , and \\ (\\, is a comma in a "
                              "value, \\\\ a backslash)",
                              param);
    return NX_OK;
}

/* The attribute filter on key (len bytes), made on first use. */
static struct attribute_filter *attribute_slot(struct product_query *q, const char *key,
                                               size_t len) {
    struct product_filter *f = &q->filter;
    for (size_t i = 0; i < f->attribute_count; i++)
        if (strlen(f->attributes[i].key) == len && memcmp(f->attributes[i].key, key, len) == 0)
            return &f->attributes[i];
    struct attribute_filter *a = &f->attributes[f->attribute_count++];
    memset(a, 0, sizeof *a);
    a->key = keep(q, key, len);
    return a;
}

/* attr.<key>, attr.<key>.min, attr.<key>.max. */
static enum nx_err parse_attribute(struct request *req, struct product_query *q, const char *param,
                                   struct slice v) {
    const char *key = param + 5, *dot = strchr(key, '.');
    size_t len = dot ? (size_t)(dot - key) : strlen(key);
    if (!is_attribute_key(key, len))
        return problem_detail(req, NX_ERR_BAD_REQUEST, "%.60s: " ATTRIBUTE_KEY_RULE, param);
    bool min = dot && strcmp(dot, ".min") == 0, max = dot && strcmp(dot, ".max") == 0;
    if (dot && !min && !max)
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "%.60s: only .min or .max may follow an attribute key", param);
    if (!v.ptr)
        return NX_OK;
    if ((min || max) && !is_number(v))
        return problem_detail(
            req, NX_ERR_BAD_REQUEST,
            "%s must be a decimal number (-?digits[.digits], at most 40 characters)", param);
    const char *values = NULL;
    size_t count = 0;
    enum nx_err e = min || max ? NX_OK : parse_list(req, q, param, v, &values, &count);
    if (e != NX_OK)
        return e;
    struct attribute_filter *a = attribute_slot(q, key, len);
    if (min || max)
        *(min ? &a->min : &a->max) = keep(q, v.ptr, v.len);
    else {
        a->values = values;
        a->value_count = count;
    }
    return NX_OK;
}

bool product_filter_names_option(const struct product_filter *f, const char *name) {
    for (size_t i = 0; i < f->option_count; i++)
        if (utf8_same_lower(f->options[i].name, name))
            return true;
    return false;
}

/* option.<name>: a name of 1 to 50 characters, any but the list's comma. */
static enum nx_err parse_option(struct request *req, struct product_query *q, const char *param,
                                struct slice v) {
    const char *name = param + 7;
    size_t chars = 0;
    for (const char *c = name; *c; c++)
        chars += ((unsigned char)*c & 0xC0) != 0x80;
    if (chars < 1 || chars > OPTION_NAME_MAX)
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "%.200s: an option name is 1 to %d characters", param,
                              OPTION_NAME_MAX);
    if (!v.ptr)
        return NX_OK;
    const char *values = NULL;
    size_t count = 0;
    enum nx_err e = parse_list(req, q, param, v, &values, &count);
    if (e != NX_OK)
        return e;
    if (product_filter_names_option(&q->filter, name))
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "%.60s repeats an option (names are compared case-insensitively)",
                              param);
    struct option_filter *o = &q->filter.options[q->filter.option_count++];
    o->name = keep(q, name, strlen(name));
    o->values = values;
    o->value_count = count;
    return NX_OK;
}

/* text lower-cased as the filters compare it (owned). */
static char *folded(const char *text, size_t len) {
    size_t cap = 4 * len + 1; /* a code point of 1 byte may lower to 4 */
    char *out = xmalloc(cap);
    utf8_lower(text, len, out, cap);
    return out;
}

/* Parameter names in the order of their lower-cased text: option names
 * compare case-insensitively, so option.Size and option.size sort alike. */
static int compare_names(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    char *fx = folded(x, strlen(x)), *fy = folded(y, strlen(y));
    int order = strcmp(fx, fy);
    free(fx);
    free(fy);
    return order ? order : strcmp(x, y);
}

/* Query parameter names reach PostgreSQL (option names) and error
 * details: they must be text. */
static bool is_utf8(const char *s) {
    json_t *text = json_string(s);
    json_decref(text);
    return text != NULL;
}

static enum nx_err parse_discovery_param(struct request *req, struct product_query *q,
                                         const char *param) {
    struct slice v;
    if (!is_utf8(param))
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "an attr.* or option.* parameter name is not valid UTF-8");
    enum nx_err e = list_filter_value(req, param, &v);
    if (e != NX_OK)
        return e;
    bool attribute = strncmp(param, "attr.", 5) == 0;
    e = attribute ? parse_attribute(req, q, param, v) : parse_option(req, q, param, v);
    if (e == NX_OK && v.ptr) {
        /* lower-cased, as the filter compares: a cursor of option.Size=M
         * continues option.size=m. Lengths first: an option name may hold
         * '=' or '&' (percent-encoded), a value '&'. */
        char *name = folded(param, strlen(param)), *value = folded(v.ptr, v.len);
        size_t value_len = strlen(value);
        buf_printf(&q->canonical, "&%zu:%s=%zu:", strlen(name), name, value_len);
        buf_append(&q->canonical, value, value_len);
        free(name);
        free(value);
    }
    return e;
}

/* How many of the parameters have a value: an empty one is ignored like
 * any empty filter, so it does not count against the limit. */
static size_t given_values(struct request *req, const char *const *names, size_t n) {
    size_t given = 0;
    for (size_t i = 0; i < n; i++) {
        struct slice v;
        given += request_query(req, names[i], &v) == NX_OK && v.ptr && v.len > 0;
    }
    return given;
}

/* attr.* and option.*, in name order (the cursor's canonical text does
 * not depend on the order they were sent in). */
static enum nx_err parse_discovery(struct request *req, struct product_query *q) {
    const char *names[NX_MAX_QUERY_ARGS];
    size_t n = request_query_names(req, "attr.", names, NX_MAX_QUERY_ARGS);
    if (n < NX_MAX_QUERY_ARGS)
        n += request_query_names(req, "option.", names + n, NX_MAX_QUERY_ARGS - n);
    if (n > NX_MAX_QUERY_ARGS || given_values(req, names, n) > NX_DISCOVERY_MAX)
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "at most %d attr.* and option.* parameters are allowed",
                              NX_DISCOVERY_MAX);
    qsort(names, n, sizeof names[0], compare_names);
    enum nx_err e = NX_OK;
    for (size_t i = 0; i < n && e == NX_OK; i++)
        e = parse_discovery_param(req, q, names[i]);
    return e;
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
        e = list_bool_filter(req, "in_stock", &q->filter.in_stock, &q->canonical);
    if (e == NX_OK)
        e = parse_currency(req, q);
    if (e == NX_OK)
        e = parse_sku(req, q);
    /* The list served, not the text sent: include_inactive counts for
     * staff only, and false is the default, so a cursor binds to it only
     * when inactive products are in the list. */
    struct buf sent = {0};
    if (e == NX_OK)
        e = list_bool_filter(req, "include_inactive", &inactive, &sent);
    buf_clear(&sent);
    q->filter.include_inactive = staff && inactive == 1;
    if (q->filter.include_inactive)
        buf_puts(&q->canonical, "&include_inactive=1");
    q->category_at = q->canonical.len;
    if (e == NX_OK)
        e = parse_category(req, db, q);
    if (e == NX_OK)
        e = parse_discovery(req, q);
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
    for (size_t i = 0; i < q->owned_count; i++)
        free(q->owned[i]);
    buf_clear(&q->canonical);
}
