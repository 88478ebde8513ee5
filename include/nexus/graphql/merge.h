/*
 * merge.h -- Field Selection Merging (specification 5.3.2), with bounded
 * work; the method is described in validate.h.
 *
 * Called by gql_validate on a document without fragment cycles; every
 * operation and fragment definition is checked from its top selection
 * set, down through the merged sub-selections. Conflicts are
 * GQL_CODE_VALIDATION errors locating both fields; a document that needs
 * more than GQL_VALIDATION_WORK_MAX collected fields, or that nests
 * fields deeper than GQL_EXPANDED_DEPTH_MAX, is one GQL_CODE_LIMIT error. False when it added an
 * error.
 */
#ifndef NEXUS_GRAPHQL_MERGE_H
#define NEXUS_GRAPHQL_MERGE_H

#include "nexus/graphql/error.h"
#include "nexus/graphql/parse.h"

#include <stdbool.h>

#define GQL_VALIDATION_WORK_MAX 50000
/* Levels of fields, fragments expanded, the check descends at most: far
 * over any depth the limits let run (limits.h), and a bound on its stack. */
#define GQL_EXPANDED_DEPTH_MAX 128

bool gql_check_merging(const struct gql_document *doc, struct gql_errors *errs);

#endif
