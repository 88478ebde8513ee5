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

bool etag_matches(const char *header, const char *etag, bool weak_ok) {
    if (is_wildcard(header))
        return true;
    size_t want = strlen(etag);
    bool matched = false;
    for (const char *p = header; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++; /* empty list elements are allowed (RFC 9110 5.6.1) */
        if (!*p)
            break;
        bool weak = strncmp(p, "W/", 2) == 0;
        if (weak)
            p += 2;
        const char *close = *p == '"' ? strchr(p + 1, '"') : NULL;
        if (!close)
            return false; /* not a list of entity tags: nothing matches */
        size_t n = (size_t)(close - p + 1);
        matched = matched || ((!weak || weak_ok) && n == want && memcmp(p, etag, n) == 0);
        p = skip_ows(close + 1);
        if (*p && *p != ',')
            return false;
    }
    return matched;
}
