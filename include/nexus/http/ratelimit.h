/*
 * ratelimit.h -- attempt counters for logins, password checks,
 * registrations and account emails, per email and per client address.
 * A client is given as its limit key (request_client_limit_key): its IPv4
 * address, or the /64 of its IPv6 address.
 *
 * An attempt is counted before the work it limits (the argon2 check), by
 * an atomic increment whose result is compared with the limit, so requests
 * in flight at the same moment cannot all slip under it. An attempt that
 * turns out not to be a failure gives its count back.
 *
 * Counts live in Redis (shared by every instance) with the window as TTL,
 * and while Redis answers its count is the one judged: a right password on
 * any instance clears the email's count for all of them. A small
 * in-process table keeps a copy of each count and counts on its own while
 * Redis does not answer, so an outage makes the limit per-instance, never
 * unlimited. The table never gives a live count's slot to another key (its
 * slots are picked by a hash keyed with a secret of the process): an
 * attempt it has no room for while Redis does not answer is refused,
 * NX_ERR_UNAVAILABLE with req->retry_after the seconds until a slot of
 * its range ends.
 */
#ifndef NEXUS_HTTP_RATELIMIT_H
#define NEXUS_HTTP_RATELIMIT_H

#include "nexus/core/err.h"
#include "nexus/http/request.h"

#include <stdbool.h>

#define NX_THROTTLE_KEY_MAX 160

/* The counts one attempt took, to be kept or given back. */
struct throttle {
    struct request *req; /* the request it counts for */
    bool tracks_pending; /* its attempt is judged: counted as pending until then */
    size_t count;
    struct {
        char key[NX_THROTTLE_KEY_MAX];
        int max;
        bool in_redis; /* Redis counted it too */
    } keys[2];
};

/* Count a password attempt for email and client. email is the address
 * as given: every trimmed, lower-cased spelling, a malformed one too, has
 * its own counter. NX_ERR_TOO_MANY with req->retry_after set when either
 * count is now over its limit; NX_ERR_UNAVAILABLE with it when the limit
 * is reached only by attempts still being checked, or when the attempt
 * cannot be counted (above); that attempt is not counted. */
enum nx_err login_throttle_begin(struct request *req, struct throttle *t, const char *email,
                                 const char *client);

/* The password was right: the email's failures are forgotten and the
 * attempt is not held against the client. */
void login_throttle_passed(struct throttle *t);

/* The owner of email proved it otherwise (a confirmed password reset):
 * the email's failures are forgotten, as by login_throttle_passed. The
 * clients' counts stay. */
void login_throttle_forget_email(const char *email);

/* The password was wrong (or the registration failed): the counts stay
 * until the window ends. */
void throttle_failed(struct throttle *t);

/* The attempt ended before the password was judged (an outage, no free
 * hash slot): give its counts back. When it ended to compute its hash off
 * the server thread (auth/password.h), the counts are kept instead, and
 * the request's next run takes them over rather than count again: an
 * attempt stays counted while its hash is computed. */
void throttle_undo(struct throttle *t);

/* The request ended: give back the counts its runs kept and no later run
 * took over. */
void throttle_release_carried(struct request *req);

/* Count a request that sends an account email (password reset,
 * verification resend) to email, from client, against counters of their
 * own with the login limits and window: every request counts, so at most
 * LOGIN_MAX_FAILURES_PER_EMAIL such emails per address and window are
 * ever queued. NX_ERR_TOO_MANY with req->retry_after when over. */
enum nx_err mail_throttle_begin(struct request *req, struct throttle *t, const char *email,
                                const char *client);

/* Count a registration from client against the per-client limit of
 * failed logins (a separate counter: every registration counts, since
 * each costs a hash). NX_ERR_TOO_MANY with req->retry_after when over. */
enum nx_err register_throttle_begin(struct request *req, struct throttle *t, const char *client);

#endif
