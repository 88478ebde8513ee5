/*
 * user.c -- user validation and serialisation.
 */
#include "nexus/model/user.h"

#include "nexus/model/fields.h"

#include <sodium.h>
#include <string.h>

static enum nx_err check_name(struct field_errors *errs, const char *name) {
    if (name && !display_name_valid(name, 200))
        return fielderr_add(errs, "name", "must be 1 to 200 characters, not only white space");
    return NX_OK;
}

static enum nx_err check_password(struct field_errors *errs, const char *field, const char *pw) {
    size_t n = pw ? utf8_length(pw) : 0;
    if (pw && (n < NX_PASSWORD_MIN || n > NX_PASSWORD_MAX))
        return fielderr_add(errs, field, "must be 8 to 128 characters");
    return NX_OK;
}

static void take_secret(json_t *body, const char *field, const char **pw, size_t *len) {
    json_t *v = json_object_get(body, field);
    *pw = json_string_value(v);
    *len = *pw ? json_string_length(v) : 0;
}

enum nx_err user_register_input(struct field_errors *errs, json_t *body, struct user_input *in) {
    static const struct field_spec spec[] = {
        {"email", FIELD_STRING, true},
        {"password", FIELD_STRING, true},
        {"name", FIELD_STRING, true},
    };
    memset(in, 0, sizeof *in);
    enum nx_err e = fields_check(errs, body, spec, 3);
    const char *email = field_string(body, "email");
    if (email && !email_normalize(email, in->email, sizeof in->email))
        e = fielderr_add(errs, "email", "must be a valid email address");
    in->name = field_string(body, "name");
    take_secret(body, "password", &in->password, &in->password_len);
    if (check_name(errs, in->name) != NX_OK)
        e = NX_ERR_VALIDATION;
    if (check_password(errs, "password", in->password) != NX_OK)
        e = NX_ERR_VALIDATION;
    return e;
}

enum nx_err user_login_input(struct field_errors *errs, json_t *body, struct user_input *in) {
    static const struct field_spec spec[] = {
        {"email", FIELD_STRING, true},
        {"password", FIELD_STRING, true},
    };
    memset(in, 0, sizeof *in);
    enum nx_err e = fields_check(errs, body, spec, 2);
    const char *email = field_string(body, "email");
    /* an email holding a NUL is malformed, not the address before it */
    if (!email || strlen(email) != json_string_length(json_object_get(body, "email")) ||
        !email_normalize(email, in->email, sizeof in->email))
        in->email[0] = '\0';
    take_secret(body, "password", &in->password, &in->password_len);
    return e;
}

enum nx_err user_self_patch_input(struct field_errors *errs, json_t *body, struct user_input *in) {
    static const struct field_spec spec[] = {
        {"name", FIELD_STRING, false},
        {"password", FIELD_STRING, false},
        {"current_password", FIELD_STRING, false},
    };
    memset(in, 0, sizeof *in);
    enum nx_err e = fields_check(errs, body, spec, 3);
    in->name = field_string(body, "name");
    take_secret(body, "password", &in->password, &in->password_len);
    take_secret(body, "current_password", &in->current_password, &in->current_password_len);
    if (check_name(errs, in->name) != NX_OK)
        e = NX_ERR_VALIDATION;
    if (check_password(errs, "password", in->password) != NX_OK)
        e = NX_ERR_VALIDATION;
    if (in->password && !in->current_password && !json_object_get(body, "current_password"))
        e = fielderr_add(errs, "current_password", "is required to change the password");
    return e;
}

enum nx_err user_reset_request_input(struct field_errors *errs, json_t *body,
                                     struct user_input *in) {
    static const struct field_spec spec[] = {{"email", FIELD_STRING, true}};
    memset(in, 0, sizeof *in);
    enum nx_err e = fields_check(errs, body, spec, 1);
    /* Any address is answered alike, whatever it is: one that can be no
     * account's (malformed, empty, too long, holding a NUL) is "", which
     * names none. */
    const char *email = field_string(body, "email");
    if (email && strlen(email) != json_string_length(json_object_get(body, "email")))
        return e;
    if (email && !email_normalize(email, in->email, sizeof in->email) &&
        !email_as_given(email, in->email, sizeof in->email))
        in->email[0] = '\0';
    return e;
}

enum nx_err user_token_input(struct field_errors *errs, json_t *body, bool with_password,
                             struct token_input *in) {
    static const struct field_spec spec[] = {
        {"token", FIELD_STRING, true},
        {"password", FIELD_STRING, true},
    };
    memset(in, 0, sizeof *in);
    enum nx_err e = fields_check(errs, body, spec, with_password ? 2 : 1);
    take_secret(body, "token", &in->token, &in->token_len);
    if (with_password) {
        take_secret(body, "password", &in->password, &in->password_len);
        if (check_password(errs, "password", in->password) != NX_OK)
            e = NX_ERR_VALIDATION;
    }
    return e;
}

static bool valid_role(const char *role) {
    return strcmp(role, "customer") == 0 || strcmp(role, "staff") == 0 ||
           strcmp(role, "admin") == 0;
}

enum nx_err user_admin_patch_input(struct field_errors *errs, json_t *body, struct user_input *in) {
    static const struct field_spec spec[] = {
        {"name", FIELD_STRING, false},
        {"role", FIELD_STRING, false},
        {"is_active", FIELD_BOOL, false},
    };
    memset(in, 0, sizeof *in);
    enum nx_err e = fields_check(errs, body, spec, 3);
    in->name = field_string(body, "name");
    in->role = field_string(body, "role");
    json_t *active = json_object_get(body, "is_active");
    if (json_is_boolean(active))
        in->is_active = json_is_true(active) ? "true" : "false";
    if (check_name(errs, in->name) != NX_OK)
        e = NX_ERR_VALIDATION;
    if (in->role && !valid_role(in->role))
        e = fielderr_add(errs, "role", "must be customer, staff or admin");
    return e;
}

json_t *user_to_json(const PGresult *r, int row) {
    json_t *u = json_object();
    json_object_set_new(u, "id", json_integer(strtoll(PQgetvalue(r, row, UC_ID), NULL, 10)));
    json_object_set_new(u, "email", json_string(PQgetvalue(r, row, UC_EMAIL)));
    json_object_set_new(u, "name", json_string(PQgetvalue(r, row, UC_NAME)));
    json_object_set_new(u, "role", json_string(PQgetvalue(r, row, UC_ROLE)));
    json_object_set_new(u, "is_active", json_boolean(PQgetvalue(r, row, UC_IS_ACTIVE)[0] == 't'));
    json_object_set_new(u, "email_verified",
                        json_boolean(PQgetvalue(r, row, UC_EMAIL_VERIFIED)[0] == 't'));
    json_object_set_new(u, "created_at", json_string(PQgetvalue(r, row, UC_CREATED_AT)));
    json_object_set_new(u, "updated_at", json_string(PQgetvalue(r, row, UC_UPDATED_AT)));
    return u;
}

static void wipe(json_t *body, const char *field) {
    json_t *v = json_object_get(body, field);
    if (json_is_string(v))
        sodium_memzero((void *)(uintptr_t)json_string_value(v), json_string_length(v));
}

void user_wipe_secrets(json_t *body) {
    wipe(body, "password");
    wipe(body, "token");
    wipe(body, "current_password");
}
