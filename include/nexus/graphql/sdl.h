/*
 * sdl.h -- the schema (schema.h) as SDL text, printed the way the graphql
 * npm package's printSchema prints a schema (version 16): the schema
 * definition (it has a description), then the types in table order,
 * without the built-in scalars, the introspection types and the
 * specified directives; descriptions as block strings, arguments with
 * descriptions one per line. docs/schema.graphql is this text, and
 * printSchema(buildClientSchema(introspection)) must give it back.
 */
#ifndef NEXUS_GRAPHQL_SDL_H
#define NEXUS_GRAPHQL_SDL_H

#include "nexus/core/xmem.h"

void gql_schema_sdl(struct buf *out);

#endif
