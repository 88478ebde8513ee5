/*
 * mail.h -- sending email: SMTP through libcurl, or .eml files.
 *
 * With SMTP_URL set, messages go to that server; without it (development)
 * each message is written to MAIL_DIR as <message-id>.eml. Every message
 * carries the Message-ID its caller derives from the job, so a retry after
 * a crash between sending and marking the job done is recognisable as the
 * same message (and, for files, overwrites it).
 */
#ifndef NEXUS_JOBS_MAIL_H
#define NEXUS_JOBS_MAIL_H

#include "nexus/core/config.h"

#include <stdbool.h>
#include <stddef.h>

#define NX_MAIL_MAX_RECIPIENTS 256

struct mail {
    const char *to[NX_MAIL_MAX_RECIPIENTS];
    size_t to_count;
    const char *subject;
    const char *body;       /* text, lines separated by \n */
    const char *html;       /* NULL: text only; else the same message as HTML */
    const char *message_id; /* without angle brackets */
};

/* Send m; false with a reason in err (for the job's last_error). */
bool mail_send(const struct config *cfg, const struct mail *m, char *err, size_t errcap);

/* Render the RFC 5322 message (CRLF line ends); owned by the caller. Header
 * values lose any CR or LF, so user data cannot add headers. A subject that
 * is not plain ASCII is sent as RFC 2047 encoded words (UTF-8, base64).
 * With html, the message is multipart/alternative: the text part, then the
 * HTML part, each text/...; charset=utf-8 in 8bit. */
char *mail_render(const struct config *cfg, const struct mail *m, size_t *len);

#endif
