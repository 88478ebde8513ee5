/*
 * fuzz_router.c -- router_match over the real route table (nx_routes) on
 * arbitrary methods and paths.
 *
 * Input layout: byte 0 picks the method (any enum value, HTTP_OTHER
 * included), the rest is the path, cut at its first NUL (libmicrohttpd
 * hands the decoded path over as a C string).
 *
 * Guarantees checked against an independent segment-by-segment matcher:
 *   - NX_OK names the first row whose pattern matches the path and whose
 *     method is the request's (HEAD served by GET rows); its parameters
 *     are non-empty slices of the path without '/', and putting them back
 *     into the pattern gives the path again;
 *   - an {id} or {vid} segment matches only a positive integer within
 *     int64 without leading zeros (any segment on ROUTE_ID_OR_SLUG rows);
 *   - only the matching patterns with the fewest parameters count (a
 *     literal segment beats a parameter);
 *   - NX_ERR_METHOD: some pattern matches, none for this method, and
 *     allow_mask holds exactly the methods of the matching rows that count
 *     (+ HEAD for GET, + OPTIONS);
 *   - NX_ERR_NOT_FOUND: no pattern matches.
 */
#include "nexus/http/router.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_router: check failed: %s (line %d)\n", #cond, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A positive int64 in plain decimal, compared as text against the
 * largest one. */
static bool is_id_text(const char *s, size_t len) {
    static const char max[] = "9223372036854775807";
    if (len == 0 || len > sizeof max - 1 || s[0] < '1' || s[0] > '9')
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return len < sizeof max - 1 || memcmp(s, max, len) <= 0;
}

/* One path segment of pattern p (from *pp) against one of path s (from
 * *sp); both advance past the segment. */
static bool segment_matches(const char **pp, const char **sp, bool slug_ids) {
    const char *p = *pp, *s = *sp;
    size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");
    bool ok;
    bool id = (plen == 4 && memcmp(p, "{id}", 4) == 0) || (plen == 5 && memcmp(p, "{vid}", 5) == 0);
    if (id && !slug_ids)
        ok = is_id_text(s, slen);
    else if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}')
        ok = slen > 0; /* a parameter: any non-empty segment */
    else
        ok = plen == slen && memcmp(p, s, plen) == 0;
    *pp = p + plen;
    *sp = s + slen;
    return ok;
}

/* Reference matcher: same number of segments, each one matching. */
static bool reference_match(const struct route *r, const char *path) {
    const char *p = r->pattern, *s = path;
    for (;;) {
        if (!segment_matches(&p, &s, (r->flags & ROUTE_ID_OR_SLUG) != 0))
            return false;
        if (*p == '\0' || *s == '\0')
            return *p == '\0' && *s == '\0';
        p++; /* both at '/' */
        s++;
    }
}

/* How many "{name}" segments a pattern has. */
static size_t param_count(const char *pattern) {
    size_t n = 0;
    for (const char *p = pattern; (p = strchr(p, '{')); p++)
        n++;
    return n;
}

/* Rebuild the path from the pattern and the captured parameters. */
static void check_params(const struct route *r, const struct request *req, const char *path) {
    char rebuilt[8192];
    size_t used = 0, k = 0;
    for (const char *p = r->pattern; *p;) {
        if (*p == '{') {
            CHECK(k < req->param_count);
            struct slice v = req->params[k++];
            CHECK(v.len > 0 && v.ptr >= path && v.ptr + v.len <= path + strlen(path));
            CHECK(memchr(v.ptr, '/', v.len) == NULL);
            CHECK(used + v.len < sizeof rebuilt);
            memcpy(rebuilt + used, v.ptr, v.len);
            used += v.len;
            p = strchr(p, '}') + 1;
        } else {
            CHECK(used + 1 < sizeof rebuilt);
            rebuilt[used++] = *p++;
        }
    }
    rebuilt[used] = '\0';
    CHECK(k == req->param_count);
    CHECK(strcmp(rebuilt, path) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096)
        return 0;
    size_t len = strnlen((const char *)data + 1, size - 1);
    char *path = malloc(len + 1); /* exactly sized: ASan sees overreads */
    CHECK(path);
    memcpy(path, data + 1, len);
    path[len] = '\0';

    struct request req = {0};
    req.method = (enum http_method)(data[0] % HTTP__COUNT);
    req.path = path;
    enum nx_err e = router_match(nx_routes, nx_route_count, &req);

    enum http_method want = req.method == HTTP_HEAD ? HTTP_GET : req.method;
    const struct route *first = NULL;
    unsigned allow = 0;
    size_t fewest = SIZE_MAX;
    for (size_t i = 0; i < nx_route_count; i++)
        if (reference_match(&nx_routes[i], path) && param_count(nx_routes[i].pattern) < fewest)
            fewest = param_count(nx_routes[i].pattern);
    for (size_t i = 0; i < nx_route_count; i++) {
        if (!reference_match(&nx_routes[i], path) || param_count(nx_routes[i].pattern) != fewest)
            continue;
        allow |= 1u << nx_routes[i].method;
        if (nx_routes[i].method == HTTP_GET)
            allow |= 1u << HTTP_HEAD;
        if (nx_routes[i].method == want && !first)
            first = &nx_routes[i];
    }

    if (!allow) {
        CHECK(e == NX_ERR_NOT_FOUND);
        CHECK(req.route == NULL);
    } else {
        CHECK(req.allow_mask == (allow | 1u << HTTP_OPTIONS));
        if (first) {
            CHECK(e == NX_OK);
            CHECK(req.route == first);
            check_params(req.route, &req, path);
        } else {
            CHECK(e == NX_ERR_METHOD);
            CHECK(req.route == NULL);
        }
    }
    free(path);
    return 0;
}
