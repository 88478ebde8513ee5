/*
 * jsonpath.c -- the field a position in a JSON document belongs to (see
 * jsonpath.h). One pass over the text up to the position, keeping for
 * each open object its current key and for each open array its current
 * index; nesting is bounded, keys are kept as written (escapes included).
 */
#include "nexus/core/jsonpath.h"

#include "nexus/core/fielderr.h"
#include "nexus/core/xmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 64 /* deeper than any body the API reads */
#define KEY_MAX   64 /* bytes of a key kept: longer keys are cut */

struct frame {
    char kind;   /* '{' or '[' */
    bool at_key; /* in an object, before a key and its ':' */
    size_t index;
    char key[KEY_MAX + 1];
};

struct walk {
    const char *p, *end;
    struct frame stack[DEPTH_MAX];
    int depth;
};

/* Past a string starting at p (its opening quote); its content into key
 * when key is not NULL. False when it does not end before w->end. */
static bool skip_string(struct walk *w, char *key) {
    const char *start = ++w->p;
    while (w->p < w->end && *w->p != '"')
        w->p += *w->p == '\\' ? 2 : 1;
    if (w->p >= w->end)
        return false;
    if (key) {
        size_t n = (size_t)(w->p - start) < KEY_MAX ? (size_t)(w->p - start) : KEY_MAX;
        memcpy(key, start, n);
        key[n] = '\0';
    }
    w->p++;
    return true;
}

static bool open_container(struct walk *w, char kind) {
    if (w->depth == DEPTH_MAX)
        return false;
    w->stack[w->depth++] = (struct frame){kind, kind == '{', 0, ""};
    w->p++;
    return true;
}

/* One token at w->p; false when the text stops reading as JSON. */
static bool step(struct walk *w) {
    struct frame *top = w->depth ? &w->stack[w->depth - 1] : NULL;
    char c = *w->p;
    if (c == '{' || c == '[')
        return open_container(w, c);
    if (c == '}' || c == ']') {
        if (!top || top->kind != (c == '}' ? '{' : '['))
            return false;
        w->depth--;
        w->p++;
        return true;
    }
    if (c == '"')
        return skip_string(w, top && top->at_key ? top->key : NULL);
    if (c == ':' || c == ',') {
        if (top && c == ':')
            top->at_key = false;
        else if (top && top->kind == '{')
            top->at_key = true;
        else if (top)
            top->index++;
        w->p++;
        return true;
    }
    w->p++; /* white space, a number's or a literal's bytes */
    return true;
}

static void write_path(const struct walk *w, char *out, size_t cap) {
    struct buf path = {0};
    for (int i = 0; i < w->depth; i++) {
        const struct frame *f = &w->stack[i];
        if (f->kind == '[')
            buf_printf(&path, "[%zu]", f->index);
        else
            buf_printf(&path, "%s%s", path.len ? "." : "", f->key);
    }
    snprintf(out, cap, "%s", path.data ? path.data : "");
    buf_clear(&path);
}

/* Where the number that ends at byte offset end of text starts. */
static size_t number_start(const char *text, size_t end) {
    size_t start = end;
    while (start > 0 && text[start - 1] && strchr("0123456789+-.eE", text[start - 1]))
        start--;
    return start;
}

void jsonpath_zero_number(char *text, size_t end) {
    size_t start = number_start(text, end);
    if (start == end)
        return;
    memset(text + start, ' ', end - start);
    text[start] = '0';
}

char *jsonpath_widen_integer(const char *text, size_t len, size_t end, size_t *wide_len) {
    if (end > len)
        return NULL;
    size_t start = number_start(text, end);
    if (start == end)
        return NULL;
    for (size_t i = start; i < end; i++)
        if (strchr(".eE", text[i]))
            return NULL; /* a real: past a double, not widened */
    char *wide = xmalloc(len + 3);
    memcpy(wide, text, end);
    memcpy(wide + end, "e0", 2);
    memcpy(wide + end + 2, text + end, len - end);
    wide[len + 2] = '\0';
    *wide_len = len + 2;
    return wide;
}

/* Whether the text's first value is an object (its first byte past
 * white space is '{'). */
static bool an_object(const char *text, size_t len) {
    size_t i = 0;
    while (i < len && text[i] && strchr(" \t\r\n", text[i]))
        i++;
    return i < len && text[i] == '{';
}

/* Past the number jansson refused, ending at err's position of *text: an
 * integer widened, or, when out_of_range is given, a real past a double
 * named there and read as 0. *copy owns the text once it has changed.
 * False when neither applies. */
static bool step_past_number(const char **text, char **copy, size_t *len, const json_error_t *err,
                             struct field_errors *out_of_range) {
    size_t end = (size_t)err->position, wide_len = 0;
    char *wide = jsonpath_widen_integer(*text, *len, end, &wide_len);
    if (wide) {
        free(*copy);
        *text = *copy = wide;
        *len = wide_len;
        return true;
    }
    char field[128];
    if (!out_of_range || !jsonpath_at(*text, *len, end, field, sizeof field))
        return false;
    if (!*copy) {
        *copy = xmalloc(*len + 1);
        memcpy(*copy, *text, *len);
        (*copy)[*len] = '\0';
        *text = *copy;
    }
    fielderr_add(out_of_range, field, "is a number out of range");
    jsonpath_zero_number(*copy, end);
    return true;
}

/* Past a key jansson refused for holding a NUL (\u0000), which ends just
 * before err's position: the key named in out like a value holding one,
 * its NUL escapes read as \u0001 so that the rest of the text reads. */
static bool step_past_nul_key(const char **text, char **copy, size_t *len, const json_error_t *err,
                              struct field_errors *out) {
    size_t end = (size_t)err->position;
    if (!out || end < 2 || end > *len || (*text)[end - 1] != '"')
        return false;
    struct walk w = {*text, *text + end, {{0}}, 0};
    const char *key = NULL;
    while (w.p < w.end) {
        if (*w.p == '"')
            key = w.p; /* a string's opening quote: step reads the whole string */
        if (!step(&w))
            return false;
    }
    if (!key || w.depth == 0 || !w.stack[w.depth - 1].at_key)
        return false;
    char field[128];
    write_path(&w, field, sizeof field);
    fielderr_add(out, field, "must not contain a NUL character");
    size_t at = (size_t)(key - *text);
    if (!*copy) {
        *copy = xmalloc(*len + 1);
        memcpy(*copy, *text, *len);
        (*copy)[*len] = '\0';
        *text = *copy;
    }
    for (size_t k = at + 1; k + 1 < end; k += (*copy)[k] == '\\' ? 2 : 1)
        if ((*copy)[k] == '\\' && k + 6 < end && memcmp(*copy + k, "\\u0000", 6) == 0)
            (*copy)[k + 5] = '1';
    return true;
}

/* json_loadb, stepping past each number jansson refuses, and each key
 * holding a NUL when out_of_range is given (see the header). */
static json_t *load_past_numbers(const char *text, size_t len, size_t flags, json_error_t *err,
                                 struct field_errors *out_of_range) {
    json_t *v = json_loadb(text, len, flags, err);
    char *copy = NULL;
    for (int i = 0; !v && i < JSONPATH_WIDEN_MAX; i++) {
        enum json_error_code code = json_error_code(err);
        bool past = code == json_error_numeric_overflow
                        ? step_past_number(&text, &copy, &len, err, out_of_range)
                        : code == json_error_null_byte_in_key &&
                              step_past_nul_key(&text, &copy, &len, err, out_of_range);
        if (!past)
            break;
        v = json_loadb(text, len, flags, err);
    }
    free(copy);
    return v;
}

/* Whether the text holds a \u0000 escape (or what looks like one). */
static bool has_nul_escape(const char *text, size_t len) {
    for (const char *p = memchr(text, '\\', len); p && (size_t)(p - text) + 6 <= len;
         p = memchr(p + 1, '\\', len - (size_t)(p + 1 - text)))
        if (memcmp(p, "\\u0000", 6) == 0)
            return true;
    return false;
}

/* Name each string of v (at path) that holds a NUL: "is a number out of
 * range"'s sibling, a value no field can take. */
static void name_nul_strings(const json_t *v, struct buf *path, struct field_errors *out) {
    size_t at = path->len;
    const char *key;
    json_t *item;
    size_t i;
    if (json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v))
        fielderr_add(out, path->len ? path->data : "", "must not contain a NUL character");
    json_object_foreach((json_t *)v, key, item) {
        buf_printf(path, "%s%s", at ? "." : "", key);
        name_nul_strings(item, path, out);
        path->len = at;
    }
    json_array_foreach(v, i, item) {
        buf_printf(path, "[%zu]", i);
        name_nul_strings(item, path, out);
        path->len = at;
    }
    if (path->data)
        path->data[at] = '\0';
}

json_t *jsonpath_load_past_numbers(const char *text, size_t len, size_t flags, json_error_t *err,
                                   struct field_errors *out_of_range) {
    json_error_t local;
    err = err ? err : &local;
    if (out_of_range && !an_object(text, len))
        out_of_range = NULL;
    /* in an object, a NUL written \u0000 is a field's error, not malformed
     * JSON (only that escape spells one: a raw NUL byte is malformed) */
    bool nul = out_of_range && has_nul_escape(text, len);
    if (nul)
        flags |= JSON_ALLOW_NUL;
    json_t *v = load_past_numbers(text, len, flags, err, out_of_range);
    struct buf path = {0};
    if (v && nul)
        name_nul_strings(v, &path, out_of_range);
    buf_clear(&path);
    return v;
}

json_t *jsonpath_load_wide(const char *text, size_t len, size_t flags, json_error_t *err) {
    return jsonpath_load_past_numbers(text, len, flags, err, NULL);
}

bool jsonpath_at(const char *text, size_t len, size_t offset, char *out, size_t cap) {
    struct walk w = {text, text + (offset < len ? offset : len), {{0}}, 0};
    while (w.p < w.end)
        if (!step(&w))
            return false;
    if (w.depth == 0 || (w.stack[w.depth - 1].kind == '{' && w.stack[w.depth - 1].at_key))
        return false;
    write_path(&w, out, cap);
    return true;
}

const char *jsonpath_fault(const json_error_t *err) {
    /* jansson's JSON_PARSER_MAX_DEPTH */
    return json_error_code(err) == json_error_stack_overflow ? "JSON nested deeper than 2048 levels"
                                                             : "malformed JSON";
}
