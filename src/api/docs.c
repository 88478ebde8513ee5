/*
 * docs.c -- Swagger UI at /docs, from a fixed list of files read once.
 *
 * libmicrohttpd hands us URLs already percent-decoded, so "/docs/%2e%2e/x"
 * arrives as "/docs/../x". Nothing here ever builds a file name from a URL:
 * the names below are the only files read (from DOCS_DIR, at start-up), and
 * a request is answered by comparing its {file} segment with those names.
 * Anything else is a 404.
 *
 * The page is ours (web/docs/ in the repository); the assets come from the
 * swagger-ui-dist npm package, staged next to it by scripts/lib/common.sh.
 * The page references them with absolute /docs/ paths and a ?v=<version>
 * query, so they can be cached for a day and still change on an upgrade;
 * our own two files are revalidated on every use (ETag, 304).
 */
#include "nexus/api/docs.h"

#include "nexus/core/log.h"
#include "nexus/core/xmem.h"
#include "nexus/http/problem.h"
#include "nexus/model/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* No listed file comes near this; a bigger one is a broken install. */
#define DOCS_FILE_MAX (16u * 1024 * 1024)

#define CACHE_REVALIDATE "no-cache"
#define CACHE_VERSIONED  "public, max-age=86400"

/* The page loads scripts, styles, images and the spec from this server
 * only. Swagger UI sets inline styles and uses data: URIs for its icons. */
#define DOCS_CSP                                                                                   \
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "                    \
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "         \
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

struct docs_file {
    const char *name;          /* as in the URL and in DOCS_DIR */
    const char *content_type;  /* a literal */
    const char *cache_control; /* a literal */
    char *data;                /* owned; NULL until loaded */
    size_t len;
    char etag[NX_ETAG_LEN + 1];
};

#define INDEX_FILE 0 /* served at /docs, not at /docs/index.html */

static struct docs_file files[] = {
    {"index.html", "text/html; charset=utf-8", CACHE_REVALIDATE, NULL, 0, ""},
    {"swagger-initializer.js", "application/javascript; charset=utf-8", CACHE_REVALIDATE, NULL, 0,
     ""},
    {"swagger-ui.css", "text/css; charset=utf-8", CACHE_VERSIONED, NULL, 0, ""},
    {"index.css", "text/css; charset=utf-8", CACHE_VERSIONED, NULL, 0, ""},
    {"swagger-ui-bundle.js", "application/javascript; charset=utf-8", CACHE_VERSIONED, NULL, 0, ""},
    {"swagger-ui-standalone-preset.js", "application/javascript; charset=utf-8", CACHE_VERSIONED,
     NULL, 0, ""},
    {"favicon-32x32.png", "image/png", CACHE_VERSIONED, NULL, 0, ""},
    {"favicon-16x16.png", "image/png", CACHE_VERSIONED, NULL, 0, ""},
};

#define FILE_COUNT (sizeof files / sizeof files[0])

static bool loaded;

/* Read one regular file of at most DOCS_FILE_MAX bytes. Returns an owned
 * buffer, or NULL with *why set. */
static char *read_file(const char *path, size_t *len, const char **why) {
    char *data = NULL;
    size_t got = 0;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = errno == ENOENT ? "missing" : "unreadable";
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *why = "not a regular file";
        goto out;
    }
    if ((unsigned long long)st.st_size > DOCS_FILE_MAX) {
        *why = "too large";
        goto out;
    }
    data = xmalloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *why = "unreadable";
            free(data);
            data = NULL;
            goto out;
        }
        got += (size_t)n;
    }
    *len = got;
out:
    close(fd);
    return data;
}

void docs_free(void) {
    for (size_t i = 0; i < FILE_COUNT; i++) {
        free(files[i].data);
        files[i].data = NULL;
        files[i].len = 0;
        files[i].etag[0] = '\0';
    }
    loaded = false;
}

bool docs_load(const char *dir) {
    docs_free();
    if (!dir || !dir[0]) {
        log_warn("docs", NULL, "DOCS_DIR is not set: /docs answers 404");
        return false;
    }
    for (size_t i = 0; i < FILE_COUNT; i++) {
        char path[4096];
        const char *why = NULL;
        int w = snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        if (w < 0 || (size_t)w >= sizeof path) {
            log_warn("docs", NULL, "DOCS_DIR is too long: /docs answers 404");
            docs_free();
            return false;
        }
        files[i].data = read_file(path, &files[i].len, &why);
        if (!files[i].data) {
            log_warn("docs", NULL, "%s: %s; /docs answers 404", path, why);
            docs_free();
            return false;
        }
        etag_of(files[i].data, files[i].len, files[i].etag);
    }
    loaded = true;
    log_info("docs", NULL, "Swagger UI loaded from %s (%zu files)", dir, FILE_COUNT);
    return true;
}

static enum nx_err not_installed(struct request *req) {
    return problem_detail(req, NX_ERR_NOT_FOUND,
                          "the API documentation is not installed on this server");
}

static void serve(const struct docs_file *f, struct response *res) {
    char *copy = xmalloc(f->len + 1);
    memcpy(copy, f->data, f->len);
    response_take(res, 200, f->content_type, copy, f->len);
    response_header(res, "ETag", f->etag);
    response_header(res, "Cache-Control", f->cache_control);
    response_header(res, "X-Content-Type-Options", "nosniff");
}

enum nx_err api_docs_index(struct request *req, struct response *res) {
    if (!loaded)
        return not_installed(req);
    serve(&files[INDEX_FILE], res);
    response_header(res, "Content-Security-Policy", DOCS_CSP);
    response_header(res, "Referrer-Policy", "no-referrer");
    return NX_OK;
}

enum nx_err api_docs_file(struct request *req, struct response *res) {
    if (!loaded)
        return not_installed(req);
    struct slice name = request_param(req, 0);
    for (size_t i = 0; i < FILE_COUNT; i++) {
        if (i == INDEX_FILE)
            continue;
        if (strlen(files[i].name) == name.len && memcmp(files[i].name, name.ptr, name.len) == 0) {
            serve(&files[i], res);
            return NX_OK;
        }
    }
    return problem_detail(req, NX_ERR_NOT_FOUND, "no such documentation file");
}
