/*
 * conditional.c -- entity-tag comparison for conditional requests.
 */
#include "nexus/http/conditional.h"

#include <string.h>

static const char *skip_ows(const char *p) {
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Whether the whole value is "*" (white space around it allowed): "*" is
 * no list element, so "*x" or "*, \"a\"" is no wildcard. */
static bool is_wildcard(const char *header) {
    const char *p = skip_ows(header);
    return *p == '*' && *skip_ows(p + 1) == '\0';
}

struct listed_tag {
    bool weak;
    const char *tag; /* the opaque tag, quotes included */
    size_t len;
};

/* The next entity tag of a list at *p, moving *p past it: 1 for a tag, 0
 * at the end of the list, -1 when the rest is no list of entity tags. */
static int next_tag(const char **p, struct listed_tag *t) {
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++; /* empty list elements are allowed (RFC 9110 5.6.1) */
    if (!*s)
        return 0;
    t->weak = strncmp(s, "W/", 2) == 0;
    if (t->weak)
        s += 2;
    const char *close = *s == '"' ? strchr(s + 1, '"') : NULL;
    if (!close)
        return -1;
    t->tag = s;
    t->len = (size_t)(close - s + 1);
    s = skip_ows(close + 1);
    if (*s && *s != ',')
        return -1;
    *p = s;
    return 1;
}

bool etag_matches(const char *header, const char *etag, bool weak_ok) {
    if (is_wildcard(header))
        return true;
    size_t want = strlen(etag);
    bool matched = false;
    struct listed_tag t;
    int more;
    for (const char *p = header; (more = next_tag(&p, &t)) > 0;)
        matched =
            matched || ((!t.weak || weak_ok) && t.len == want && memcmp(t.tag, etag, want) == 0);
    return more == 0 && matched; /* not a list of entity tags: nothing matches */
}

enum etag_list etag_list_kind(const char *header) {
    if (is_wildcard(header))
        return ETAG_LIST_WILDCARD;
    bool strong = false, any = false;
    struct listed_tag t;
    int more;
    for (const char *p = header; (more = next_tag(&p, &t)) > 0;) {
        any = true;
        strong = strong || !t.weak;
    }
    if (more < 0 || !any)
        return ETAG_LIST_MALFORMED;
    return strong ? ETAG_LIST_STRONG : ETAG_LIST_WEAK_ONLY;
}
