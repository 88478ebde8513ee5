/*
 * auth.h -- register, login, refresh and logout.
 */
#ifndef NEXUS_API_AUTH_H
#define NEXUS_API_AUTH_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

enum nx_err api_auth_register(struct request *req, struct response *res);
enum nx_err api_auth_login(struct request *req, struct response *res);
enum nx_err api_auth_refresh(struct request *req, struct response *res);
enum nx_err api_auth_logout(struct request *req, struct response *res);

#endif
