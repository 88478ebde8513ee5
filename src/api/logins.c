/*
 * logins.c -- the caller's logins.
 *
 * A login is what one POST /auth/login started; its public id is a number
 * (logins.number), scoped to the caller: another user's login is a 404
 * like one that does not exist. Ending a login works like logout: its
 * refresh and access tokens stop working at once.
 */
#include "nexus/api/logins.h"

#include "nexus/api/common.h"
#include "nexus/db/logins.h"
#include "nexus/http/problem.h"
#include "nexus/model/login.h"

#include <stdio.h>

/* The list is not paginated; a user with more live logins than this sees
 * the most recently used ones. */
#define LOGINS_LIST_MAX "200"

static void principal_id(const struct request *req, char out[24]) {
    snprintf(out, 24, "%lld", (long long)req->principal.user_id);
}

enum nx_err api_logins_list(struct request *req, struct response *res) {
    struct db *db = NULL;
    PGresult *r = NULL;
    char id[24];
    principal_id(req, id);
    enum nx_err e = api_db(req, &db);
    if (e == NX_OK)
        e = logins_list(db, id, req->principal.family, LOGINS_LIST_MAX, &r);
    if (e == NX_OK) {
        json_t *items = json_array();
        for (int i = 0; i < PQntuples(r); i++)
            json_array_append_new(items, login_to_json(r, i));
        api_ok(res, json_pack("{s:o}", "items", items));
    }
    PQclear(r);
    return e;
}

enum nx_err api_logins_delete(struct request *req, struct response *res) {
    struct db *db = NULL;
    PGresult *r = NULL;
    char id[24], number[24];
    principal_id(req, id);
    enum nx_err e = api_path_id(req, 0, number);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = db_begin(db);
    if (e == NX_OK)
        e = logins_find(db, number, id, &r);
    if (e == NX_OK && PQntuples(r) != 1)
        e = problem_detail(req, NX_ERR_NOT_FOUND, "no such login");
    if (e == NX_OK)
        e = logins_revoke(db, PQgetvalue(r, 0, 0));
    e = api_commit_empty(db, res, 204, e);
    PQclear(r);
    return e;
}
