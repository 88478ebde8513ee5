/*
 * jsonw.c -- a small streaming JSON writer (see core/jsonw.h).
 */
#include "nexus/core/jsonw.h"

#include "nexus/core/err.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* One byte: in place when the buffer has room (most of the time), else
 * through buf_append, which grows it. */
static void put_byte(struct buf *b, char c) {
    if (b->len + 2 <= b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return;
    }
    buf_append(b, &c, 1);
}

/* Before any value or key: the comma that separates it from the previous
 * one at this level, unless it follows its key. */
static void separate(struct jsonw *w) {
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->has_item[w->depth])
        put_byte(&w->out, ',');
    w->has_item[w->depth] = true;
}

static void open_level(struct jsonw *w, char c) {
    separate(w);
    NX_ASSERT(w->depth < JSONW_MAX_DEPTH);
    put_byte(&w->out, c);
    w->has_item[++w->depth] = false;
}

static void close_level(struct jsonw *w, char c) {
    NX_ASSERT(w->depth > 0 && !w->after_key);
    w->depth--;
    put_byte(&w->out, c);
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
    put_byte(&w->out, ':');
    w->after_key = true;
}

void jsonw_key_quoted(struct jsonw *w, const char *quoted, size_t len) {
    separate(w);
    buf_append(&w->out, quoted, len);
    w->after_key = true;
}

void jsonw_stringn(struct jsonw *w, const char *s, size_t len) {
    separate(w);
    buf_json_text(&w->out, s, len);
}

void jsonw_string(struct jsonw *w, const char *s) {
    separate(w);
    buf_json_text(&w->out, s, strlen(s));
}

void jsonw_put_int(struct buf *b, int64_t v) {
    char digits[24], *p = digits + sizeof digits;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do { /* digit arithmetic, not printf: this runs for every number written */
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    buf_append(b, p, (size_t)(digits + sizeof digits - p));
}

void jsonw_int(struct jsonw *w, int64_t v) {
    separate(w);
    jsonw_put_int(&w->out, v);
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

static unsigned hex4(const char *s) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static void put_utf8(struct buf *b, unsigned cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_append(b, u, n);
}

/* The escape at s[0] == '\\' decoded into b; returns its length. */
static size_t unescape(const char *s, size_t len, struct buf *b) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *simple = len > 1 ? memchr(from, s[1], sizeof from - 1) : NULL;
    if (simple) {
        buf_append(b, &to[simple - from], 1);
        return 2;
    }
    if (len < 6 || s[1] != 'u')
        return len; /* not valid JSON: the caller promised it is */
    unsigned cp = hex4(s + 2);
    size_t used = 6;
    if (cp >= 0xD800 && cp < 0xDC00 && len >= 12 && s[6] == '\\' && s[7] == 'u') {
        unsigned low = hex4(s + 8);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        used = 12;
    }
    put_utf8(b, cp);
    return used;
}

/* The string starting at json[0] == '"', re-escaped; returns its length
 * with the quotes. Strings without escapes (most) are not copied. */
static size_t restring(struct buf *b, const char *json, size_t len) {
    size_t end = 1;
    bool escaped = false;
    while (end < len && json[end] != '"') {
        escaped |= json[end] == '\\';
        end += json[end] == '\\' ? 2 : 1;
    }
    if (!escaped) {
        buf_json_text(b, json + 1, end - 1);
        return end + 1;
    }
    struct buf text = {0};
    for (size_t i = 1; i < end;) {
        const char *bs = memchr(json + i, '\\', end - i);
        size_t plain = bs ? (size_t)(bs - json) - i : end - i;
        buf_append(&text, json + i, plain);
        i += plain;
        if (i < end)
            i += unescape(json + i, end - i, &text);
    }
    buf_json_text(b, text.data ? text.data : "", text.len);
    buf_clear(&text);
    return end + 1;
}

void jsonw_put_text(struct buf *b, const char *json, size_t len) {
    for (size_t i = 0; i < len;) {
        char c = json[i];
        if (c == '"') {
            i += restring(b, json + i, len - i);
            continue;
        }
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') /* white space is dropped */
            put_byte(b, c);
        i++;
    }
}

void jsonw_text(struct jsonw *w, const char *json, size_t len) {
    separate(w);
    jsonw_put_text(&w->out, json, len);
}

/* A real as jansson spells it (rare in the answers written here). */
static void put_real(struct buf *b, const json_t *v) {
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    NX_ASSERT(text != NULL);
    buf_puts(b, text);
    free(text);
}

void jsonw_put_value(struct buf *b, const json_t *v) {
    const char *key;
    const json_t *x;
    size_t i;
    bool first = true;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        buf_append(b, "{", 1);
        json_object_foreach((json_t *)v, key, x) {
            if (!first)
                buf_append(b, ",", 1);
            first = false;
            buf_json_text(b, key, strlen(key));
            buf_append(b, ":", 1);
            jsonw_put_value(b, x);
        }
        buf_append(b, "}", 1);
        break;
    case JSON_ARRAY:
        buf_append(b, "[", 1);
        json_array_foreach(v, i, x) {
            if (i)
                buf_append(b, ",", 1);
            jsonw_put_value(b, x);
        }
        buf_append(b, "]", 1);
        break;
    case JSON_STRING:
        buf_json_text(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        jsonw_put_int(b, json_integer_value(v));
        break;
    case JSON_REAL:
        put_real(b, v);
        break;
    case JSON_TRUE:
        buf_puts(b, "true");
        break;
    case JSON_FALSE:
        buf_puts(b, "false");
        break;
    case JSON_NULL:
        buf_puts(b, "null");
        break;
    }
}

void jsonw_value(struct jsonw *w, const json_t *v) {
    separate(w);
    jsonw_put_value(&w->out, v);
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
