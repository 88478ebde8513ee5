/*
 * assets.c -- a page and its assets from a fixed list of files read once.
 * See assets.h: nothing here ever builds a file name from a URL.
 */
#include "nexus/api/assets.h"

#include "nexus/core/log.h"
#include "nexus/core/xmem.h"
#include "nexus/http/problem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* No listed file comes near this; a bigger one is a broken install. */
#define ASSET_FILE_MAX (16u * 1024 * 1024)

/* Read one regular file of at most ASSET_FILE_MAX bytes. Returns an owned
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
    if ((unsigned long long)st.st_size > ASSET_FILE_MAX) {
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

void assets_free(struct asset_set *set) {
    for (size_t i = 0; i < set->count; i++) {
        free(set->files[i].data);
        set->files[i].data = NULL;
        set->files[i].len = 0;
        set->files[i].etag[0] = '\0';
    }
    set->loaded = false;
}

bool assets_load(struct asset_set *set, const char *dir) {
    assets_free(set);
    if (!dir || !dir[0]) {
        log_warn("docs", NULL, "%s is not set: %s answers 404", set->setting, set->path);
        return false;
    }
    for (size_t i = 0; i < set->count; i++) {
        struct asset_file *f = &set->files[i];
        char path[4096];
        const char *why = NULL;
        int w = set->subdir ? snprintf(path, sizeof path, "%s/%s/%s", dir, set->subdir, f->name)
                            : snprintf(path, sizeof path, "%s/%s", dir, f->name);
        if (w < 0 || (size_t)w >= sizeof path) {
            log_warn("docs", NULL, "%s is too long: %s answers 404", set->setting, set->path);
            assets_free(set);
            return false;
        }
        f->data = read_file(path, &f->len, &why);
        if (!f->data) {
            log_warn("docs", NULL, "%s: %s; %s answers 404", path, why, set->path);
            assets_free(set);
            return false;
        }
        etag_of(f->data, f->len, f->etag);
    }
    set->loaded = true;
    log_info("docs", NULL, "%s loaded from %s (%zu files)", set->what, dir, set->count);
    return true;
}

static void serve(const struct asset_file *f, struct response *res) {
    char *copy = xmalloc(f->len + 1);
    memcpy(copy, f->data, f->len);
    response_take(res, 200, f->content_type, copy, f->len);
    response_header(res, "ETag", f->etag);
    response_header(res, "Cache-Control", f->cache_control);
    response_header(res, "X-Content-Type-Options", "nosniff");
}

enum nx_err assets_page(const struct asset_set *set, struct request *req, struct response *res) {
    if (!set->loaded)
        return problem_detail(req, NX_ERR_NOT_FOUND, "%s", set->missing);
    serve(&set->files[0], res);
    response_header(res, "Content-Security-Policy", ASSET_CSP);
    response_header(res, "Referrer-Policy", "no-referrer");
    return NX_OK;
}

enum nx_err assets_file(const struct asset_set *set, struct request *req, struct response *res) {
    if (!set->loaded)
        return problem_detail(req, NX_ERR_NOT_FOUND, "%s", set->missing);
    struct slice name = request_param(req, 0);
    for (size_t i = 1; i < set->count; i++) {
        const struct asset_file *f = &set->files[i];
        if (strlen(f->name) == name.len && memcmp(f->name, name.ptr, name.len) == 0) {
            serve(f, res);
            return NX_OK;
        }
    }
    return problem_detail(req, NX_ERR_NOT_FOUND, "%s", set->unknown);
}
