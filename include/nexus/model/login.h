/*
 * login.h -- what a user sees of their logins: rows to JSON, and the
 * User-Agent text kept for each login.
 *
 * No I/O here. The User-Agent header is client input shown back in a
 * list (and perhaps in a page): it is kept as valid UTF-8 without control
 * characters and cut to NX_USER_AGENT_MAX characters.
 */
#ifndef NEXUS_MODEL_LOGIN_H
#define NEXUS_MODEL_LOGIN_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#define NX_USER_AGENT_MAX 256 /* characters (code points) */
/* Bytes for a cleaned User-Agent, NUL included. */
#define NX_USER_AGENT_BYTES (NX_USER_AGENT_MAX * 4 + 1)

/* Columns of every query that returns logins (db/logins.c), in this order. */
enum login_col { LC_NUMBER, LC_CREATED_AT, LC_LAST_USED_AT, LC_USER_AGENT, LC_CURRENT };

/*
 * Copy the User-Agent header ua (NULL: none) into out: invalid UTF-8 and
 * control characters (C0, DEL, C1) become nothing, runs of white space one
 * space, ends trimmed, and at most NX_USER_AGENT_MAX characters are kept.
 */
void login_user_agent(const char *ua, char out[NX_USER_AGENT_BYTES]);

/* The login JSON of row (columns in enum login_col order); a new reference. */
json_t *login_to_json(const PGresult *r, int row);

#endif
