/*
 * account_mail.h -- the emails of an account: welcome, email verification
 * and password reset, one job kind each.
 *
 * Each is a multipart/alternative message (text and HTML) whose links
 * point at APP_URL. A link's token is made here, by the worker: the
 * request that asked for it only enqueued the job, so asking costs the same
 * whether or not the account exists. Issuing a token replaces the user's
 * earlier one of its kind; every attempt of one job issues the same one
 * (see link_token); the raw token exists only in the message.
 */
#ifndef NEXUS_JOBS_ACCOUNT_MAIL_H
#define NEXUS_JOBS_ACCOUNT_MAIL_H

#include "nexus/core/config.h"
#include "nexus/db/db.h"
#include "nexus/jobs/queue.h"

#include <stdbool.h>
#include <stddef.h>

/* How long a link of seconds works, as its message says: "30 minutes",
 * "2 hours", "1 day". Minutes are whole ones, rounded down ("1 minute"
 * for 90 seconds): the link works at least as long as the message says. */
void account_mail_duration_text(int seconds, char *out, size_t cap);

/* welcome_email {user_id, email, name}: the greeting, which for an
 * active, unverified user also carries the verification link (so a new
 * account gets one email, not two). */
bool account_mail_welcome(const struct config *cfg, struct db *db, const struct job *job,
                          const char *message_id, char *err, size_t errcap);

/* verification_email {user_id} (a resend): a verification link for an active user
 * whose address is not verified yet (else nothing is sent). */
bool account_mail_verify(const struct config *cfg, struct db *db, const struct job *job,
                         const char *message_id, char *err, size_t errcap);

/* password_reset_email {email}: a reset link when an active account has
 * this address (in any case); else nothing is sent. */
bool account_mail_reset(const struct config *cfg, struct db *db, const struct job *job,
                        const char *message_id, char *err, size_t errcap);

#endif
