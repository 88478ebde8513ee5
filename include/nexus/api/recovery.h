/*
 * recovery.h -- password reset and email verification.
 *
 * POST /auth/password-reset answers 202 after the same work whatever the
 * address: it only enqueues a job keyed by the normalised address; the
 * worker looks the account up and makes the link (jobs/account_mail.h).
 * The confirm endpoints take a link's one-time token.
 */
#ifndef NEXUS_API_RECOVERY_H
#define NEXUS_API_RECOVERY_H

#include "nexus/http/request.h"
#include "nexus/http/response.h"

enum nx_err api_auth_password_reset(struct request *req, struct response *res);
enum nx_err api_auth_password_reset_confirm(struct request *req, struct response *res);
enum nx_err api_auth_verify_email(struct request *req, struct response *res);
enum nx_err api_auth_verify_email_resend(struct request *req, struct response *res);

#endif
