/*
 * jsonscan.c -- a cursor over JSON text (see jsonscan.h).
 */
#include "nexus/core/jsonscan.h"

#include <string.h>

void jsonscan_init(struct jsonscan *js, const char *text, size_t len) {
    *js = (struct jsonscan){text, text + len, text == NULL};
}

static bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

static void space(struct jsonscan *js) {
    while (js->p < js->end && is_space(*js->p))
        js->p++;
}

static bool fail(struct jsonscan *js) {
    js->bad = true;
    return false;
}

char jsonscan_peek(struct jsonscan *js) {
    if (js->bad)
        return 0;
    space(js);
    return js->p < js->end ? *js->p : 0;
}

/* Past the string whose opening quote is at p; NULL when it does not end. */
static const char *string_end(const char *p, const char *end) {
    for (p++; p < end;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return NULL;
        const char *bs = q;
        while (bs > p && bs[-1] == '\\')
            bs--;
        if ((q - bs) % 2 == 0) /* not escaped */
            return q + 1;
        p = q + 1;
    }
    return NULL;
}

/* Past the object or array opening at p, by counting brackets outside
 * strings; NULL when it does not end. */
static const char *container_end(const char *p, const char *end) {
    size_t depth = 0;
    while (p < end) {
        if (*p == '"') {
            p = string_end(p, end);
            if (!p)
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

/* Past a number or a literal: up to a separator, a closing bracket or
 * white space. */
static const char *scalar_end(const char *p, const char *end) {
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ':' && *p != '{' && *p != '[' &&
           *p != '"' && *p != '\0' && !is_space(*p))
        p++;
    return p;
}

bool jsonscan_value(struct jsonscan *js, struct jsonspan *v) {
    char c = jsonscan_peek(js);
    const char *start = js->p, *after;
    if (c == 0)
        return fail(js);
    if (c == '"')
        after = string_end(start, js->end);
    else if (c == '{' || c == '[')
        after = container_end(start, js->end);
    else
        after = scalar_end(start, js->end);
    if (!after || after == start)
        return fail(js);
    *v = (struct jsonspan){start, (size_t)(after - start)};
    js->p = after;
    return true;
}

bool jsonscan_string(struct jsonscan *js, struct jsonspan *content) {
    struct jsonspan v;
    if (jsonscan_peek(js) != '"' || !jsonscan_value(js, &v))
        return fail(js);
    *content = (struct jsonspan){v.s + 1, v.len - 2};
    return true;
}

bool jsonscan_open(struct jsonscan *js, char open) {
    if (jsonscan_peek(js) != open)
        return fail(js);
    js->p++;
    return true;
}

bool jsonscan_more(struct jsonscan *js, char close, bool *first) {
    char c = jsonscan_peek(js);
    if (c == close) {
        js->p++;
        return false;
    }
    if (!*first) {
        if (c != ',')
            return fail(js);
        js->p++;
    }
    *first = false;
    return jsonscan_peek(js) != 0 && jsonscan_peek(js) != close ? true : fail(js);
}

bool jsonscan_key(struct jsonscan *js, struct jsonspan *key) {
    if (!jsonscan_string(js, key) || jsonscan_peek(js) != ':')
        return fail(js);
    js->p++;
    return true;
}

bool jsonspan_escaped(struct jsonspan content) {
    return memchr(content.s, '\\', content.len) != NULL;
}

bool jsonspan_is(struct jsonspan content, const char *s) {
    return strlen(s) == content.len && memcmp(content.s, s, content.len) == 0;
}
