/*
 * docs.h -- Swagger UI at /docs, served from memory (api/assets).
 *
 * The page and its assets are a fixed list of file names, read once from
 * DOCS_DIR at start-up. Without DOCS_DIR, or when a listed file is
 * missing, every docs route answers 404 and the rest of the server works
 * as usual.
 */
#ifndef NEXUS_API_DOCS_H
#define NEXUS_API_DOCS_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

#include <stdbool.h>

/*
 * Read the listed files from dir (borrowed; NULL or "" means not
 * configured) into memory. Call once, before the server starts its
 * threads. Returns true when every file was loaded; otherwise logs a
 * warning naming what is missing, serves nothing and returns false.
 */
bool docs_load(const char *dir);

/* Release what docs_load read; afterwards the docs routes answer 404. */
void docs_free(void);

/* GET /docs: the Swagger UI page, with a Content-Security-Policy. */
enum nx_err api_docs_index(struct request *req, struct response *res);

/* GET /docs/{file}: one asset of the fixed list, else 404. */
enum nx_err api_docs_file(struct request *req, struct response *res);

#endif
