/*
 * idempotency.h -- Idempotency-Key on POST: a retry gets the first answer.
 *
 * The first POST with a key runs its handler inside a transaction that
 * the pipeline owns (db_begin_outer), and a 2xx answer (status, body,
 * Content-Type, Location and ETag) is stored in the same transaction, so
 * the answer is kept exactly when the change is. Answers are scoped to
 * the key, the caller (user id, or client address when anonymous) and
 * the path, and kept IDEMPOTENCY_TTL seconds (24 h).
 *
 * A session advisory lock on (scope, path, key), taken without waiting
 * and held until the answer is kept, makes concurrent duplicates safe:
 * one runs, the others get a 409 while it runs and the kept answer
 * (Idempotent-Replayed: true) once it is done. A refusal the handler
 * answered (400, 403, 404, 409, 412, 422) is kept after its rollback,
 * still under the lock, so a duplicate never runs beside it. A repeat
 * whose method, query or body differs (HMAC-SHA-256 fingerprint) is a
 * 422 on the header. A 401, a 429 or a failure of the server's own is
 * not kept: a retry simply runs again.
 *
 * An upload (ROUTE_UPLOAD) reads its body for as long as REQUEST_TIMEOUT
 * before it runs, so it also claims its key when its headers are in: a
 * row in PostgreSQL with no answer yet (db/idempotency.h), which its
 * answer replaces. A repeat meanwhile, on any instance, is the 409 at
 * once, its body unread; a repeat of a key already answered reads its
 * body and gets the answer or the 422 as above. A claim that no answer
 * replaced (a 413, a 5xx, a client gone mid-body) is let go when the
 * request ends; one left by a server that stopped expires a minute past
 * REQUEST_TIMEOUT.
 *
 * A replayed success on a catalog write bumps the catalog generation and
 * waits out the window as the write does (docs/ARCHITECTURE.md, "The
 * catalog cache"): the write's own bump comes after its commit, so a
 * replay, on any instance, may come before it, or instead of it.
 *
 * A request that waits for a password hash (auth/password.h) lets go of
 * the lock and of its connection to wait; the key stays marked as
 * running in this process until the request ends, so a repeat meanwhile
 * is a 409 too, rather than a second run (with a hash of its own, or a
 * login's "attempts still being checked"). The mark is this process's:
 * a repeat sent to another instance in that time runs, and ends as a
 * replay or a conflict of its own.
 */
#ifndef NEXUS_HTTP_IDEMPOTENCY_H
#define NEXUS_HTTP_IDEMPOTENCY_H

#include "nexus/core/err.h"
#include "nexus/http/request.h"
#include "nexus/http/response.h"
#include "nexus/http/router.h"

#include <stdbool.h>
#include <stddef.h>

#define NX_IDEMPOTENCY_KEY_MAX 255
#define IDEMPOTENCY_TTL        86400

/* Whether key is 1..255 printable ASCII characters (space included). */
bool idempotency_key_valid(const char *key);

/* First call of a POST: a repeated or malformed Idempotency-Key is a 400
 * naming the header. Routes that keep answers (not ROUTE_NO_REPLAY) then
 * start the request's fingerprint, and an upload claims its key (a 409
 * while another request holds it, a 503 when the database is down). */
enum nx_err idempotency_check_header(struct request *req);

/* Body bytes as they arrive (a no-op without a key). */
void idempotency_feed(struct request *req, const char *data, size_t len);

/* Whether an answer is kept for the request's key (whatever body it
 * answered): the request then ends in that answer or a 422, never in its
 * handler, so an upload need not store its body. False without a key or
 * when the database cannot say. */
bool idempotency_answer_kept(struct request *req);

/* Run handler under the request's key (see above); only for requests
 * where idempotency_check_header set req->idem_key. */
enum nx_err idempotency_run(struct request *req, struct response *res, route_handler handler);

/* The request ended (answered, refused or abandoned): a key it kept
 * marked as running, and a claim its answer did not replace, are let go.
 * Only once the request's steps are done: it takes the thread's
 * connection and releases it. */
void idempotency_request_end(struct request *req);

#endif
