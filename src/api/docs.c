/*
 * docs.c -- Swagger UI at /docs, from a fixed list of files read once
 * (api/assets).
 *
 * The page is ours (web/docs/ in the repository); the assets come from the
 * swagger-ui-dist npm package, staged next to it by scripts/lib/common.sh.
 * The page references them with absolute /docs/ paths and a ?v=<version>
 * query, so they can be cached for a day and still change on an upgrade;
 * our own two files are revalidated on every use (ETag, 304).
 */
#include "nexus/api/docs.h"

#include "nexus/api/assets.h"

static struct asset_file files[] = {
    {"index.html", ASSET_HTML, ASSET_REVALIDATE, NULL, 0, ""}, /* at /docs only */
    {"swagger-initializer.js", ASSET_JS, ASSET_REVALIDATE, NULL, 0, ""},
    {"swagger-ui.css", ASSET_CSS, ASSET_VERSIONED, NULL, 0, ""},
    {"index.css", ASSET_CSS, ASSET_VERSIONED, NULL, 0, ""},
    {"swagger-ui-bundle.js", ASSET_JS, ASSET_VERSIONED, NULL, 0, ""},
    {"swagger-ui-standalone-preset.js", ASSET_JS, ASSET_VERSIONED, NULL, 0, ""},
    {"favicon-32x32.png", ASSET_PNG, ASSET_VERSIONED, NULL, 0, ""},
    {"favicon-16x16.png", ASSET_PNG, ASSET_VERSIONED, NULL, 0, ""},
};

static struct asset_set docs = {
    .what = "Swagger UI",
    .setting = "DOCS_DIR",
    .path = "/docs",
    .subdir = NULL,
    .missing = "the API documentation is not installed on this server",
    .unknown = "no such documentation file",
    .files = files,
    .count = sizeof files / sizeof files[0],
    .loaded = false,
};

bool docs_load(const char *dir) {
    return assets_load(&docs, dir);
}

void docs_free(void) {
    assets_free(&docs);
}

enum nx_err api_docs_index(struct request *req, struct response *res) {
    return assets_page(&docs, req, res);
}

enum nx_err api_docs_file(struct request *req, struct response *res) {
    return assets_file(&docs, req, res);
}
