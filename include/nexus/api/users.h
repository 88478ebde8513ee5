/*
 * users.h -- /users/me for everyone logged in, /users for admins.
 */
#ifndef NEXUS_API_USERS_H
#define NEXUS_API_USERS_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

enum nx_err api_users_me(struct request *req, struct response *res);
enum nx_err api_users_me_patch(struct request *req, struct response *res);
enum nx_err api_users_list(struct request *req, struct response *res);
enum nx_err api_users_get(struct request *req, struct response *res);
enum nx_err api_users_patch(struct request *req, struct response *res);
enum nx_err api_users_delete(struct request *req, struct response *res);

#endif
