/*
 * logins.h -- /users/me/logins: the caller's live logins, and ending one.
 */
#ifndef NEXUS_API_LOGINS_H
#define NEXUS_API_LOGINS_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

enum nx_err api_logins_list(struct request *req, struct response *res);
enum nx_err api_logins_delete(struct request *req, struct response *res);

#endif
