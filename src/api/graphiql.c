/*
 * graphiql.c -- GraphiQL at /graphiql, from a fixed list of files read
 * once (api/assets).
 *
 * The page and its initializer are ours (web/graphiql/ in the repository);
 * the rest comes from npm packages pinned in package.json, staged next to
 * them by scripts/lib/common.sh: GraphiQL 3's single-file browser build
 * and the React 18 builds it runs on (GraphiQL 4 and later ship no such
 * build). The page references them with absolute /graphiql/ paths and a
 * ?v=<version> query, so they can be cached for a day and still change on
 * an upgrade; our own two files are revalidated on every use (ETag, 304).
 */
#include "nexus/api/graphiql.h"

#include "nexus/api/assets.h"

static struct asset_file files[] = {
    {"index.html", ASSET_HTML, ASSET_REVALIDATE, NULL, 0, ""}, /* at /graphiql only */
    {"graphiql-initializer.js", ASSET_JS, ASSET_REVALIDATE, NULL, 0, ""},
    {"graphiql.min.css", ASSET_CSS, ASSET_VERSIONED, NULL, 0, ""},
    {"graphiql.min.js", ASSET_JS, ASSET_VERSIONED, NULL, 0, ""},
    {"react.production.min.js", ASSET_JS, ASSET_VERSIONED, NULL, 0, ""},
    {"react-dom.production.min.js", ASSET_JS, ASSET_VERSIONED, NULL, 0, ""},
};

static struct asset_set graphiql = {
    .what = "GraphiQL",
    .setting = "DOCS_DIR",
    .path = "/graphiql",
    .subdir = "graphiql",
    .missing = "GraphiQL is not installed on this server",
    .unknown = "no such GraphiQL file",
    .files = files,
    .count = sizeof files / sizeof files[0],
    .loaded = false,
};

bool graphiql_load(const char *dir) {
    return assets_load(&graphiql, dir);
}

void graphiql_free(void) {
    assets_free(&graphiql);
}

enum nx_err api_graphiql_index(struct request *req, struct response *res) {
    return assets_page(&graphiql, req, res);
}

enum nx_err api_graphiql_file(struct request *req, struct response *res) {
    return assets_file(&graphiql, req, res);
}
