/*
 * err.h -- the one error type of Nexus.
 *
 * Every fallible function returns an enum nx_err; zero is success. Only
 * http/problem.c maps a code to an HTTP status, so layers below the HTTP
 * edge never think in status codes.
 */
#ifndef NEXUS_CORE_ERR_H
#define NEXUS_CORE_ERR_H

#include <stdio.h>
#include <stdlib.h>

enum nx_err {
    NX_OK = 0,
    NX_ERR_BAD_REQUEST,       /* malformed syntax: 400 */
    NX_ERR_UNAUTHORIZED,      /* no or bad credentials: 401 */
    NX_ERR_FORBIDDEN,         /* authenticated, not allowed: 403 */
    NX_ERR_NOT_FOUND,         /* 404 */
    NX_ERR_METHOD,            /* method not allowed: 405 */
    NX_ERR_CONFLICT,          /* unique or referential conflict: 409 */
    NX_ERR_PRECONDITION,      /* If-Match mismatch: 412 */
    NX_ERR_TOO_LARGE,         /* body over the cap: 413 */
    NX_ERR_URI_TOO_LONG,      /* 414 */
    NX_ERR_UNSUPPORTED_TYPE,  /* 415 */
    NX_ERR_VALIDATION,        /* field errors: 422 */
    NX_ERR_TOO_MANY,          /* rate limited: 429 */
    NX_ERR_HEADERS_TOO_LARGE, /* request line and headers over the bound: 431 */
    NX_ERR_INTERNAL,          /* bug or unexpected failure: 500 */
    NX_ERR_UNAVAILABLE,       /* dependency down or overloaded: 503 */
    NX_ERR__COUNT
};

/* Abort with a message when an invariant is broken: a bug, never bad input. */
#define NX_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "assertion failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
