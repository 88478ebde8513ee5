/*
 * router.c -- match a path against the route table.
 *
 * Patterns are compared segment by segment; "{name}" matches one non-empty
 * segment; an {id} or {vid} only a positive integer in range, so a path
 * whose id cannot name anything is a 404 for every method, answered before
 * authentication. Where several patterns match a path, only those with the
 * fewest parameters count (a literal segment wins). The table is small (tens of
 * rows), so a linear scan beats any index and keeps the code obvious.
 */
#include "nexus/http/router.h"

#include "nexus/core/parse.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Compare one path against one pattern, capturing parameters. */
static bool match_pattern(const char *pattern, const char *path, struct slice *params,
                          size_t *count) {
    const char *p = pattern, *s = path;
    size_t n = 0;
    while (*p && *s) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t seg = strcspn(s, "/");
            if (!close || seg == 0 || n == NX_MAX_PATH_PARAMS)
                return false;
            params[n].ptr = s;
            params[n].len = seg;
            n++;
            p = close + 1;
            s += seg;
        } else if (*p++ != *s++) {
            return false;
        }
    }
    if (*p || *s)
        return false;
    *count = n;
    return true;
}

/* Whether the parameter of pattern p (at a '{') is an id: {id}, {vid}. */
static bool names_an_id(const char *p) {
    return strncmp(p, "{id}", 4) == 0 || strncmp(p, "{vid}", 5) == 0;
}

/* Whether every id the route's pattern captured is a positive integer in
 * range: a path whose id cannot name anything matches no route, so it is a
 * 404 for every method (a category's {id} may be a slug). */
static bool ids_valid(const struct route *r, const struct slice *params, size_t count) {
    if (r->flags & ROUTE_ID_OR_SLUG)
        return true;
    size_t k = 0;
    for (const char *p = r->pattern; (p = strchr(p, '{')) && k < count; p++, k++) {
        int64_t id;
        if (names_an_id(p) && !parse_id(params[k].ptr, params[k].len, &id))
            return false;
    }
    return true;
}

/* Whether path matches r's pattern, and (check_ids) names an id that can
 * exist wherever the pattern has one. */
static bool route_matches(const struct route *r, const char *path, struct slice *params,
                          size_t *count, bool check_ids) {
    return match_pattern(r->pattern, path, params, count) &&
           (!check_ids || ids_valid(r, params, *count));
}

/* The fewest parameters of a pattern the path matches (SIZE_MAX for none):
 * a segment spelled out beats a parameter, so /products/facets is not
 * /products/{id}, whatever the method. */
static size_t fewest_params(const struct route *routes, size_t n, const char *path,
                            bool check_ids) {
    size_t fewest = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        struct slice params[NX_MAX_PATH_PARAMS];
        size_t count = 0;
        if (route_matches(&routes[i], path, params, &count, check_ids) && count < fewest)
            fewest = count;
    }
    return fewest;
}

const struct route *router_template_route(const struct route *routes, size_t n, const char *path) {
    size_t fewest = fewest_params(routes, n, path, false);
    for (size_t i = 0; i < n && fewest != SIZE_MAX; i++) {
        struct slice params[NX_MAX_PATH_PARAMS];
        size_t count = 0;
        if (route_matches(&routes[i], path, params, &count, false) && count == fewest)
            return &routes[i];
    }
    return NULL;
}

static enum nx_err match(const struct route *routes, size_t n, struct request *req,
                         bool check_ids) {
    enum http_method want = req->method == HTTP_HEAD ? HTTP_GET : req->method;
    size_t fewest = fewest_params(routes, n, req->path, check_ids);
    unsigned allow = 0;
    for (size_t i = 0; i < n && fewest != SIZE_MAX; i++) {
        struct slice params[NX_MAX_PATH_PARAMS];
        size_t count = 0;
        if (!route_matches(&routes[i], req->path, params, &count, check_ids) || count != fewest)
            continue;
        if (!req->pattern_route)
            req->pattern_route = &routes[i];
        allow |= 1u << routes[i].method;
        if (routes[i].method == HTTP_GET)
            allow |= 1u << HTTP_HEAD;
        if (routes[i].method == want && !req->route) {
            req->route = &routes[i];
            memcpy(req->params, params, sizeof params);
            req->param_count = count;
        }
    }
    if (!allow)
        return NX_ERR_NOT_FOUND;
    req->allow_mask = allow | 1u << HTTP_OPTIONS;
    return req->route ? NX_OK : NX_ERR_METHOD;
}

enum nx_err router_match(const struct route *routes, size_t n, struct request *req) {
    return match(routes, n, req, true);
}

enum nx_err router_match_template(const struct route *routes, size_t n, struct request *req) {
    return match(routes, n, req, false);
}

bool router_validate(const struct route *routes, size_t n, char *err, size_t errcap) {
    for (size_t i = 0; i < n; i++) {
        const struct route *r = &routes[i];
        if (!r->pattern || r->pattern[0] != '/' || !r->handler) {
            snprintf(err, errcap, "route %zu: missing pattern or handler", i);
            return false;
        }
        if (r->access < ACCESS_PUBLIC || r->access > ACCESS_ADMIN) {
            snprintf(err, errcap, "route %s %s: no access level", http_method_name(r->method),
                     r->pattern);
            return false;
        }
        if (r->method == HTTP_HEAD || r->method == HTTP_OPTIONS || r->method == HTTP_OTHER) {
            snprintf(err, errcap, "route %s: HEAD and OPTIONS are implied", r->pattern);
            return false;
        }
        if ((r->flags & ROUTE_UPLOAD) && !router_upload(r)) {
            snprintf(err, errcap, "route %s: an upload route without an upload function",
                     r->pattern);
            return false;
        }
    }
    return true;
}

route_upload router_upload(const struct route *r) {
    for (size_t i = 0; i < nx_upload_count; i++)
        if (nx_uploads[i].handler == r->handler)
            return nx_uploads[i].upload;
    return NULL;
}

void router_format_allow(unsigned mask, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (int m = 0; m < HTTP_OTHER; m++) {
        if (!(mask & (1u << m)))
            continue;
        int w = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "",
                         http_method_name((enum http_method)m));
        if (w < 0 || (size_t)w >= cap - used)
            return;
        used += (size_t)w;
    }
}

size_t router_index(const struct route *r) {
    return (size_t)(r - nx_routes);
}
