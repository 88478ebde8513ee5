/*
 * assets.h -- a browser page and its assets, served from memory.
 *
 * A set is a fixed list of file names known at compile time (files[0] is
 * the page, served at the set's own path; the others at <path>/{file}).
 * assets_load reads exactly those files from one directory once, at
 * start-up, into memory (bytes, content type, cache policy, ETag); requests
 * are then answered by looking the URL's last segment up in that list,
 * never by joining a directory and the URL. libmicrohttpd hands URLs over
 * percent-decoded ("/docs/%2e%2e" arrives as "/docs/.."), which is why no
 * file name is ever built from one. Without the directory, or when a listed
 * file is missing, every route of the set answers 404 and the rest of the
 * server works as usual.
 *
 * Sets: api/docs (Swagger UI at /docs) and api/graphiql (GraphiQL at
 * /graphiql).
 */
#ifndef NEXUS_API_ASSETS_H
#define NEXUS_API_ASSETS_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"
#include "nexus/model/catalog.h"

#include <stdbool.h>
#include <stddef.h>

/* The policies of a file: our own small files are revalidated on every
 * use (ETag, 304); a package's files are linked with a ?v=<version> query,
 * so they may be cached for a day and still change on an upgrade. */
#define ASSET_REVALIDATE "no-cache"
#define ASSET_VERSIONED  "public, max-age=86400"

#define ASSET_HTML "text/html; charset=utf-8"
#define ASSET_JS   "application/javascript; charset=utf-8"
#define ASSET_CSS  "text/css; charset=utf-8"
#define ASSET_PNG  "image/png"

/* The pages load scripts, styles, images and data from this server only.
 * Swagger UI and GraphiQL both set inline styles and use data: URIs for
 * their icons and fonts; neither evaluates strings as code. Swagger UI
 * shows an image answer through a blob: URL it made from that answer. */
#define ASSET_CSP                                                                                  \
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "                    \
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "   \
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

struct asset_file {
    const char *name;          /* as in the URL and in the directory */
    const char *content_type;  /* a literal */
    const char *cache_control; /* a literal */
    char *data;                /* owned; NULL until loaded */
    size_t len;
    char etag[NX_ETAG_LEN + 1];
};

struct asset_set {
    const char *what;    /* "Swagger UI", for the log */
    const char *setting; /* "DOCS_DIR", for the log */
    const char *path;    /* "/docs", for the log */
    const char *subdir;  /* the files' directory under the setting's; NULL: itself */
    const char *missing; /* the 404's detail when the set is not loaded */
    const char *unknown; /* the 404's detail for a name not in the list */
    struct asset_file *files;
    size_t count;
    bool loaded;
};

/*
 * Read the set's files from dir (borrowed; NULL or "" means not
 * configured), or from its subdir when it names one, into memory. Call
 * once, before the server starts its threads. Returns true when every
 * file was loaded; otherwise logs a warning naming what is missing, serves
 * nothing and returns false.
 */
bool assets_load(struct asset_set *set, const char *dir);

/* Release what assets_load read; afterwards the set's routes answer 404. */
void assets_free(struct asset_set *set);

/* The page (files[0]), with ASSET_CSP as its Content-Security-Policy. */
enum nx_err assets_page(const struct asset_set *set, struct request *req, struct response *res);

/* The file named by the route's first parameter, one of files[1..], else 404. */
enum nx_err assets_file(const struct asset_set *set, struct request *req, struct response *res);

#endif
