/*
 * jsonpick.c -- member projection over compact JSON (see core/jsonpick.h).
 */
#include "nexus/core/jsonpick.h"

#include <stdbool.h>
#include <string.h>

/* The index just past the string that starts at s[i] == '"'. */
static size_t skip_string(const char *s, size_t len, size_t i) {
    for (i++; i < len && s[i] != '"'; i++)
        if (s[i] == '\\')
            i++;
    return i < len ? i + 1 : len;
}

/* The index just past the value that starts at s[i]. */
static size_t skip_value(const char *s, size_t len, size_t i) {
    int depth = 0;
    while (i < len) {
        char c = s[i];
        if (c == '"') {
            i = skip_string(s, len, i);
        } else if (c == '{' || c == '[') {
            depth++;
            i++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i;
            depth--;
            i++;
        } else if (c == ',' && depth == 0) {
            return i;
        } else {
            i++;
        }
        if (depth == 0 && (c == '"' || c == '}' || c == ']'))
            return i;
    }
    return i;
}

static bool kept(const char *key, size_t n, const char *const *keep, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (strlen(keep[i]) == n && memcmp(keep[i], key, n) == 0)
            return true;
    return false;
}

/* The object at s[i] == '{', projected; returns the index past it. */
static size_t pick_object(struct buf *out, const char *s, size_t len, size_t i,
                          const char *const *keep, size_t n) {
    bool first = true;
    buf_append(out, "{", 1);
    i++;
    while (i < len && s[i] != '}') {
        if (s[i] == ',')
            i++;
        size_t key = i, key_end = skip_string(s, len, i);
        size_t value_end = skip_value(s, len, key_end + 1); /* past the ':' */
        /* the name between the quotes, compared as written */
        if (kept(s + key + 1, key_end - key - 2, keep, n)) {
            if (!first)
                buf_append(out, ",", 1);
            buf_append(out, s + key, value_end - key);
            first = false;
        }
        i = value_end;
    }
    buf_append(out, "}", 1);
    return i + 1;
}

void jsonpick(struct buf *out, const char *json, size_t len, const char *const *keep, size_t n) {
    if (len > 0 && json[0] == '{') {
        pick_object(out, json, len, 0, keep, n);
        return;
    }
    if (len == 0 || json[0] != '[') {
        buf_append(out, json, len);
        return;
    }
    buf_append(out, "[", 1);
    for (size_t i = 1; i < len && json[i] != ']';) {
        if (json[i] == ',') {
            buf_append(out, ",", 1);
            i++;
        }
        if (json[i] == '{') {
            i = pick_object(out, json, len, i, keep, n);
        } else {
            size_t end = skip_value(json, len, i);
            end = end > i ? end : i + 1; /* always move on */
            buf_append(out, json + i, end - i);
            i = end;
        }
    }
    buf_append(out, "]", 1);
}
