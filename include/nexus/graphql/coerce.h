/*
 * coerce.h -- input values to the values execution uses (specification
 * 6.1.2 CoerceVariableValues, 6.4.1 CoerceArgumentValues, 3.5 and 3.10
 * input coercion), as jansson values.
 *
 * A coerced value is JSON: Int a JSON integer (32-bit), Float a real, String
 * a string, Boolean true or false, ID a string (an integer given as an ID
 * becomes its decimal string), an enum value its name as a string, a list an
 * array (one value where a list is expected becomes a list of one), an input
 * object an object with its fields' defaults filled in, null null.
 *
 * gql_coerce_variables checks the request's variables (jansson, from the
 * request's JSON) against the operation's variable definitions: a value for
 * each variable given, else its default, else nothing (a nullable variable
 * without one stays absent). Each fault is one error (GQL_CODE_BAD_INPUT) at
 * the variable's definition, naming the variable and where in its value the
 * fault is: a non-null variable missing or null, a value of the wrong JSON
 * type, an Int outside 32 bits, a non-finite Float, an enum value the enum
 * does not have, an input object's unknown field or missing required field.
 * Values nested deeper than GQL_INPUT_DEPTH_MAX lists and objects, or more
 * than GQL_INPUT_VALUES_MAX values in all, are refused before the rest is
 * read.
 *
 * Literals of the document are taken as validated (validate.h): their
 * coercion cannot fail, except that a variable's runtime null may reach a
 * non-null argument, which gql_coerce_arguments reports.
 */
#ifndef NEXUS_GRAPHQL_COERCE_H
#define NEXUS_GRAPHQL_COERCE_H

#include "nexus/graphql/error.h"
#include "nexus/graphql/parse.h"
#include "nexus/graphql/schema.h"

#include <jansson.h>

#define GQL_INPUT_DEPTH_MAX  32
#define GQL_INPUT_VALUES_MAX 10000

/* A new object of the coerced variables of op; NULL with errors in errs.
 * input may be NULL (no variables) and must otherwise be an object. */
json_t *gql_coerce_variables(const struct gql_definition *op, const json_t *input,
                             struct gql_errors *errs);

/* The arguments given (args, validated) for the definitions defs, with the
 * definitions' defaults, as a new object; variables are read in vars (the
 * coerced variables). NULL with one error (GQL_CODE_BAD_INPUT at loc, or at
 * the argument) when a non-null argument would be null. */
json_t *gql_coerce_arguments(const struct gql_input_def *defs, size_t n,
                             const struct gql_argument *args, const json_t *vars,
                             const struct gql_loc *loc, struct gql_errors *errs);

/* A validated literal of type type as a new value; a variable is read in
 * vars (json null when it is absent). */
json_t *gql_literal_value(const struct gql_value *v, struct gql_tref type, const json_t *vars);

/* A default value of the schema's tables (a literal as text: "20",
 * "CREATED_AT_DESC", "false", "\"text\"") of type type, as a new value. */
json_t *gql_default_value(const char *text, struct gql_tref type);

#endif
