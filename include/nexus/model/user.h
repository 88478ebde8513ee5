/*
 * user.h -- user accounts: request bodies to validated input, rows to JSON.
 *
 * No I/O here. Validation adds one entry per bad field to the caller's
 * field_errors and returns NX_ERR_VALIDATION; the JSON never carries a
 * password hash or a token.
 */
#ifndef NEXUS_MODEL_USER_H
#define NEXUS_MODEL_USER_H

#include "nexus/core/fielderr.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#define NX_EMAIL_MAX    254
#define NX_PASSWORD_MIN 8
#define NX_PASSWORD_MAX 128

/* Columns of every query that returns users (db/users.c), in this order. */
enum user_col {
    UC_ID,
    UC_EMAIL,
    UC_NAME,
    UC_ROLE,
    UC_IS_ACTIVE,
    UC_CREATED_AT,
    UC_UPDATED_AT,
    UC_EMAIL_VERIFIED
};

struct user_input {
    char email[NX_EMAIL_MAX + 1];
    const char *name;     /* NULL: not given */
    const char *password; /* NULL: not given; borrowed from the body */
    size_t password_len;
    const char *current_password; /* NULL: not given */
    size_t current_password_len;
    const char *role;      /* NULL: not given */
    const char *is_active; /* "true"/"false", NULL: not given */
};

/* POST /auth/register: {email, password, name}. */
enum nx_err user_register_input(struct field_errors *errs, json_t *body, struct user_input *in);

/* POST /auth/login: {email, password}. Only missing or non-string fields
 * are errors: a malformed email is an ordinary failed login. in->email is
 * "" when it does not look like an address. */
enum nx_err user_login_input(struct field_errors *errs, json_t *body, struct user_input *in);

/* PATCH /users/me: {name?, password?, current_password?}. */
enum nx_err user_self_patch_input(struct field_errors *errs, json_t *body, struct user_input *in);

/* PATCH /users/{id} (admin): {name?, role?, is_active?}. */
enum nx_err user_admin_patch_input(struct field_errors *errs, json_t *body, struct user_input *in);

/* POST /auth/password-reset: {email}. A malformed address is an error
 * (an existing and a missing account are not told apart: both are valid). */
enum nx_err user_reset_request_input(struct field_errors *errs, json_t *body,
                                     struct user_input *in);

/* A one-time token from an account email, and the new password it sets. */
struct token_input {
    const char *token; /* borrowed from the body */
    size_t token_len;
    const char *password; /* NULL when the endpoint takes none */
    size_t password_len;
};

/* POST /auth/password-reset/confirm {token, password} (with_password) or
 * POST /auth/verify-email {token}. The token's form is checked by the
 * caller (auth/token.h). */
enum nx_err user_token_input(struct field_errors *errs, json_t *body, bool with_password,
                             struct token_input *in);

/* The user JSON of row (columns in enum user_col order); a new reference. */
json_t *user_to_json(const PGresult *r, int row);

/* Wipe the passwords and token held in a parsed body (jansson owns the
 * bytes). */
void user_wipe_secrets(json_t *body);

#endif
