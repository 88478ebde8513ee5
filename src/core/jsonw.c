/*
 * jsonw.c -- a small streaming JSON writer (see core/jsonw.h).
 */
#include "nexus/core/jsonw.h"

#include "nexus/core/err.h"

#include <inttypes.h>
#include <string.h>

/* Before any value or key: the comma that separates it from the previous
 * one at this level, unless it follows its key. */
static void separate(struct jsonw *w) {
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->has_item[w->depth])
        buf_append(&w->out, ",", 1);
    w->has_item[w->depth] = true;
}

static void open_level(struct jsonw *w, char c) {
    separate(w);
    NX_ASSERT(w->depth < JSONW_MAX_DEPTH);
    buf_append(&w->out, &c, 1);
    w->has_item[++w->depth] = false;
}

static void close_level(struct jsonw *w, char c) {
    NX_ASSERT(w->depth > 0 && !w->after_key);
    w->depth--;
    buf_append(&w->out, &c, 1);
}

void jsonw_object_open(struct jsonw *w) {
    open_level(w, '{');
}

void jsonw_object_close(struct jsonw *w) {
    close_level(w, '}');
}

void jsonw_array_open(struct jsonw *w) {
    open_level(w, '[');
}

void jsonw_array_close(struct jsonw *w) {
    close_level(w, ']');
}

void jsonw_key(struct jsonw *w, const char *key) {
    separate(w);
    buf_json_text(&w->out, key, strlen(key));
    buf_append(&w->out, ":", 1);
    w->after_key = true;
}

void jsonw_string(struct jsonw *w, const char *s) {
    separate(w);
    buf_json_text(&w->out, s, strlen(s));
}

void jsonw_int(struct jsonw *w, int64_t v) {
    char digits[24], *p = digits + sizeof digits;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do { /* digit arithmetic, not printf: this runs for every number written */
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    separate(w);
    buf_append(&w->out, p, (size_t)(digits + sizeof digits - p));
}

void jsonw_bool(struct jsonw *w, bool v) {
    separate(w);
    buf_puts(&w->out, v ? "true" : "false");
}

void jsonw_null(struct jsonw *w) {
    separate(w);
    buf_append(&w->out, "null", 4);
}

void jsonw_raw(struct jsonw *w, const char *json, size_t len) {
    separate(w);
    buf_append(&w->out, json, len);
}

char *jsonw_take(struct jsonw *w, size_t *len) {
    char *bytes = buf_take(&w->out, len);
    jsonw_clear(w);
    return bytes;
}

void jsonw_clear(struct jsonw *w) {
    buf_clear(&w->out);
    memset(w, 0, sizeof *w);
}
