/*
 * validate.h -- the rules of the specification's "Validation" section
 * (October 2021, section 5) against the read-only schema (schema.h), and
 * the depth and cost limits of this server.
 *
 * gql_validate checks a parsed document, every rule that applies to a
 * schema with a query root only:
 *   5.1.1   Executable Definitions (a type-system definition is an error)
 *   5.2.1.1 Operation Name Uniqueness      5.2.2.1 Lone Anonymous Operation
 *   the operation type exists: a mutation or a subscription is an error
 *           naming it (there is no such root; so 5.2.3.1 never applies)
 *   5.3.1   Field Selections               5.3.2   Field Selection Merging
 *   5.3.3   Leaf Field Selections
 *   5.4.1   Argument Names                 5.4.2   Argument Uniqueness
 *   5.4.2.1 Required Arguments
 *   5.5.1.1 Fragment Name Uniqueness       5.5.1.2 Fragment Spread Type Existence
 *   5.5.1.3 Fragments On Composite Types   5.5.1.4 Fragments Must Be Used
 *   5.5.2.1 Fragment Spread Target Defined 5.5.2.2 Fragment Spreads Must Not Form Cycles
 *   5.5.2.3 Fragment Spread Is Possible
 *   5.6.1-4 Values of Correct Type; Input Object Field Names, Uniqueness,
 *           Required Fields (values.h)
 *   5.7.1-3 Directives Are Defined, In Valid Locations, Unique Per Location
 *   5.8.1-5 Variable Uniqueness, Variables Are Input Types, All Variable
 *           Uses Defined, All Variables Used, All Variable Usages Are Allowed
 * Every fault is one error (GQL_CODE_VALIDATION, message and locations);
 * it returns true when there is none. The work of field selection merging
 * is bounded (GQL_VALIDATION_WORK_MAX fields collected, merge.h): a document that
 * needs more is refused (GQL_CODE_LIMIT), never validated slowly.
 *
 * Merging: fields with one response name are each compared with the first
 * of them (equal name and arguments is an equivalence, so a conflicting
 * pair always shows against the first) and their sub-selections are
 * checked as one merged set, so the check is linear in the fields
 * collected. Fields of two different object types may differ in name and
 * arguments, as the specification allows; their sub-selections are still
 * merged (the schema has no interface or union, so that only happens after
 * an impossible spread, itself an error).
 *
 * After validation, the executor picks the operation (gql_operation) and
 * checks the limits on it (limits.h).
 */
#ifndef NEXUS_GRAPHQL_VALIDATE_H
#define NEXUS_GRAPHQL_VALIDATE_H

#include "nexus/graphql/error.h"
#include "nexus/graphql/parse.h"

#include <stdbool.h>

bool gql_validate(const struct gql_document *doc, struct gql_errors *errs);

/* The operation named name, or the only operation when name is NULL (an
 * empty name is a name, which no operation has); NULL with an error
 * (GQL_CODE_VALIDATION) when there is none or, without a name, several. */
const struct gql_definition *gql_operation(const struct gql_document *doc, const char *name,
                                           struct gql_errors *errs);
/* The fragment definition named name, or NULL. */
const struct gql_definition *gql_fragment(const struct gql_document *doc, const char *name);

#endif
