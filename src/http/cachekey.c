/*
 * cachekey.c -- the cache key of a public catalog read, from the parsed
 * request.
 */
#include "nexus/http/cachekey.h"

#include "nexus/core/parse.h"

#include <stdio.h>
#include <string.h>

const struct cache_key_spec *cache_key_spec(const struct route *r) {
    for (size_t i = 0; r && i < nx_cache_key_count; i++)
        if (nx_cache_keys[i].handler == r->handler)
            return &nx_cache_keys[i];
    return NULL;
}

bool cache_keys_validate(const struct route *routes, size_t n, char *err, size_t errcap) {
    for (size_t i = 0; i < n; i++)
        if ((routes[i].flags & ROUTE_CACHEABLE) && !cache_key_spec(&routes[i])) {
            snprintf(err, errcap, "route %s is cacheable but has no cache key row",
                     routes[i].pattern ? routes[i].pattern : "(none)");
            return false;
        }
    return true;
}

/* mark, n in decimal, ':', then the bytes: no value can imitate another
 * part of the key (printf costs more than the rest of a hit). */
static void put_counted(struct buf *b, char mark, const char *s, size_t n) {
    char text[24];
    size_t i = sizeof text, v = n;
    text[--i] = ':';
    do {
        text[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    text[--i] = mark;
    buf_append(b, text + i, sizeof text - i);
    buf_append(b, s, n);
}

/* The canonical spelling of a well-formed value into out ('~' marks it in
 * the key); false when the value goes in as sent ('='). */
static bool canonical(enum key_form form, const char *v, size_t len, char *out, size_t cap,
                      size_t *out_len) {
    bool b;
    int64_t cents;
    int n = -1;
    switch (form) {
    case KEY_BOOL:
        if (parse_bool(v, len, &b))
            n = snprintf(out, cap, "%d", b);
        break;
    case KEY_MONEY:
        if (parse_money(v, len, &cents))
            n = snprintf(out, cap, "%lld", (long long)cents);
        break;
    case KEY_CURRENCY:
        if (len != 3)
            break;
        for (size_t i = 0; i < 3; i++) {
            char c = v[i];
            if (c >= 'a' && c <= 'z')
                c = (char)(c - 'a' + 'A');
            if (c < 'A' || c > 'Z')
                return false;
            out[i] = c;
        }
        n = 3;
        break;
    default:
        break;
    }
    if (n < 0 || (size_t)n >= cap)
        return false;
    *out_len = (size_t)n;
    return true;
}

/* The one occurrence of p in the query: *found false when absent (or empty
 * where empty means absent); false when repeated. */
static bool find_arg(const struct cache_key_input *in, const struct key_param *p,
                     const struct query_arg **found) {
    *found = NULL;
    for (size_t i = 0; i < in->arg_count; i++) {
        if (strcmp(in->args[i].key, p->name) != 0)
            continue;
        if (*found)
            return false;
        *found = &in->args[i];
    }
    bool empty = *found && (!(*found)->value || (*found)->len == 0);
    if (empty && p->form != KEY_STRICT && p->form != KEY_NAMES)
        *found = NULL;
    return true;
}

static int compare_names(const void *a, const void *b) {
    const struct slice *x = a, *y = b;
    int c = memcmp(x->ptr, y->ptr, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* KEY_NAMES: the names sorted, into out; false (as sent) when there are
 * too many, or one is empty or repeated (the handler's 400). */
static bool canonical_names(const char *v, size_t len, struct buf *out) {
    struct slice names[NX_KEY_NAMES_MAX];
    size_t n = 0;
    for (size_t start = 0; start <= len; n++) {
        const char *comma = memchr(v + start, ',', len - start);
        size_t end = comma ? (size_t)(comma - v) : len;
        if (n == NX_KEY_NAMES_MAX || end == start)
            return false;
        names[n] = (struct slice){v + start, end - start};
        start = end + 1;
    }
    qsort(names, n, sizeof names[0], compare_names);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && compare_names(&names[i - 1], &names[i]) == 0)
            return false;
        if (i > 0)
            buf_append(out, ",", 1);
        buf_append(out, names[i].ptr, names[i].len);
    }
    return true;
}

static void put_param(struct buf *out, size_t index, const struct key_param *p,
                      const struct query_arg *a) {
    char text[32];
    size_t n = 0;
    const char *v = a->value ? a->value : "";
    size_t len = a->value ? a->len : 0;
    char mark[2] = {'&', (char)('a' + index)}; /* the parameter's place in the row */
    buf_append(out, mark, sizeof mark);
    if (p->form == KEY_NAMES) {
        struct buf names = {0};
        if (canonical_names(v, len, &names))
            put_counted(out, '~', names.data, names.len);
        else
            put_counted(out, '=', v, len);
        buf_clear(&names);
        return;
    }
    if (canonical(p->form, v, len, text, sizeof text, &n))
        put_counted(out, '~', text, n);
    else
        put_counted(out, '=', v, len);
}

static int compare_args(const void *a, const void *b) {
    const struct query_arg *const *x = a, *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

/* KEY_PREFIX: every parameter named prefix..., sorted by name, each as its
 * counted name and value; false when one is repeated (the handler's 400). */
static bool put_prefixed(struct buf *out, size_t index, const struct key_param *p,
                         const struct cache_key_input *in) {
    const struct query_arg *found[NX_MAX_QUERY_ARGS];
    size_t n = 0, len = strlen(p->name);
    for (size_t i = 0; i < in->arg_count && n < NX_MAX_QUERY_ARGS; i++)
        if (strncmp(in->args[i].key, p->name, len) == 0)
            found[n++] = &in->args[i];
    qsort(found, n, sizeof found[0], compare_args);
    char mark[2] = {'&', (char)('a' + index)};
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(found[i - 1]->key, found[i]->key) == 0)
            return false;
        buf_append(out, mark, sizeof mark);
        put_counted(out, '.', found[i]->key, strlen(found[i]->key));
        put_counted(out, '=', found[i]->value ? found[i]->value : "",
                    found[i]->value ? found[i]->len : 0);
    }
    return true;
}

bool cache_key_build(struct buf *out, const struct cache_key_spec *spec,
                     const struct cache_key_input *in) {
    NX_ASSERT(spec->count <= 26);
    buf_puts(out, in->staff ? "staff:" : "public:");
    buf_puts(out, in->pattern);
    for (size_t i = 0; i < in->path_param_count; i++)
        put_counted(out, '/', in->path_params[i].ptr, in->path_params[i].len);
    buf_append(out, "?", 1);
    for (size_t i = 0; i < spec->count; i++) {
        const struct query_arg *a;
        if (spec->params[i].form == KEY_PREFIX) {
            if (!put_prefixed(out, i, &spec->params[i], in))
                return false;
            continue;
        }
        if (!find_arg(in, &spec->params[i], &a))
            return false;
        if (a)
            put_param(out, i, &spec->params[i], a);
    }
    return true;
}
