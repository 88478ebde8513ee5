/*
 * embedded.h -- files compiled into the binary at build time.
 *
 * The migrations and the OpenAPI document travel inside the executable, so
 * `nexus migrate` and GET /openapi.yaml work the same from any directory
 * and in any container, and can never disagree with the code they ship with.
 */
#ifndef NEXUS_CORE_EMBEDDED_H
#define NEXUS_CORE_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
    const char *name;
    const unsigned char *data;
    size_t len;
};

/* migrations/NNNN_name.sql, sorted by name. */
extern const struct embedded_file nx_migrations[];
extern const size_t nx_migration_count;

/* openapi.yaml */
extern const struct embedded_file nx_openapi_spec;

#endif
