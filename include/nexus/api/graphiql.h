/*
 * graphiql.h -- GraphiQL at /graphiql, served from memory (api/assets).
 *
 * The page and its assets are a fixed list of file names, read once from
 * the graphiql/ directory under DOCS_DIR at start-up. Without them every
 * GraphiQL route answers 404 and the rest of the server works as usual.
 */
#ifndef NEXUS_API_GRAPHIQL_H
#define NEXUS_API_GRAPHIQL_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

#include <stdbool.h>

/*
 * Read the listed files from dir/graphiql (dir borrowed; NULL or "" means
 * not configured). Call once, before the server starts its threads.
 * Returns true when every file was loaded; otherwise logs a warning naming
 * what is missing, serves nothing and returns false.
 */
bool graphiql_load(const char *dir);

/* Release what graphiql_load read; afterwards the routes answer 404. */
void graphiql_free(void);

/* GET /graphiql: the GraphiQL page, with a Content-Security-Policy. */
enum nx_err api_graphiql_index(struct request *req, struct response *res);

/* GET /graphiql/{file}: one asset of the fixed list, else 404. */
enum nx_err api_graphiql_file(struct request *req, struct response *res);

#endif
