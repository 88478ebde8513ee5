/*
 * problem.h -- RFC 9457 problem details: the only place that maps an
 * enum nx_err to an HTTP status.
 *
 * Stages and handlers record what went wrong on the request (a detail
 * sentence, or one entry per bad field in req->field_errors, the list the
 * model validators fill) and return the code; the server calls
 * problem_render once, at the edge.
 */
#ifndef NEXUS_HTTP_PROBLEM_H
#define NEXUS_HTTP_PROBLEM_H

#include "nexus/core/err.h"
#include "nexus/http/request.h"
#include "nexus/http/response.h"

/* HTTP status for a code (NX_OK gives 200). */
unsigned problem_status(enum nx_err code);
/* The RFC 9110 reason phrase for a status. */
const char *http_reason(unsigned status);

/* Record a detail sentence and return code. */
enum nx_err problem_detail(struct request *req, enum nx_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record one field error (422 entry) and return NX_ERR_VALIDATION. */
enum nx_err problem_field(struct request *req, const char *field, const char *message);

/* Record one field error on a conflict and return NX_ERR_CONFLICT. */
enum nx_err problem_conflict(struct request *req, const char *field, const char *message);

/* Fill res with the problem+json body for code, plus the headers the status
 * requires (WWW-Authenticate, Allow, Retry-After). */
void problem_render(struct request *req, enum nx_err code, struct response *res);

#endif
