/*
 * smtp_sink.h -- a small SMTP server for tests.
 *
 * It listens on 127.0.0.1 on an ephemeral port and serves each connection
 * in a thread of its own, speaking enough of SMTP for libcurl's client:
 * EHLO/HELO, MAIL FROM, RCPT TO, DATA (with dot-stuffing undone), RSET,
 * NOOP, VRFY and QUIT. Every message it accepts is kept in memory with its
 * envelope. It can be told to refuse the next messages with a given reply
 * code, to refuse one recipient at RCPT, or to hold its answer to DATA for a while (a slow server).
 *
 * Lines are limited to 1000 bytes and messages to SMTP_SINK_MAX_MESSAGE;
 * a longer message is refused with 552 and not stored.
 */
#ifndef NEXUS_TEST_SMTP_SINK_H
#define NEXUS_TEST_SMTP_SINK_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_SINK_MAX_MESSAGE    (1024 * 1024)
#define SMTP_SINK_MAX_RECIPIENTS 300
#define SMTP_SINK_MAX_CONNS      64

struct smtp_sink;

/* One accepted message: the envelope as given in MAIL FROM and RCPT TO
 * (without angle brackets) and the data as received, with CRLF line ends
 * and dot-stuffing undone, NUL-terminated. */
struct smtp_message {
    char *from;
    char **rcpt;
    size_t rcpt_count;
    char *data;
    size_t len;
};

/* Start listening; NULL if the socket or thread cannot be set up. */
struct smtp_sink *smtp_sink_start(void);

int smtp_sink_port(const struct smtp_sink *sink);

/* Messages accepted (and stored) so far. */
size_t smtp_sink_count(struct smtp_sink *sink);

/* Messages whose data was received completely, whatever the answer
 * (accepted, refused by fail_next, or still held by a delay). */
size_t smtp_sink_received(struct smtp_sink *sink);

/* A copy of message i (0-based, in order of acceptance) into out; false if
 * there is no such message. Free it with smtp_message_clear. */
bool smtp_sink_message(struct smtp_sink *sink, size_t i, struct smtp_message *out);
void smtp_message_clear(struct smtp_message *m);

/* Wait until at least n messages were accepted; false on timeout. */
bool smtp_sink_wait_count(struct smtp_sink *sink, size_t n, int timeout_ms);

/* Wait until at least n messages were received (see smtp_sink_received). */
bool smtp_sink_wait_received(struct smtp_sink *sink, size_t n, int timeout_ms);

/* Answer the next n completed DATA transfers with code (4xx or 5xx)
 * instead of 250, storing nothing. n < 0: every one until told otherwise;
 * n == 0: stop failing. */
void smtp_sink_fail_next(struct smtp_sink *sink, int n, int code);

/* Refuse RCPT TO of address (exact, without angle brackets) with code
 * (4xx or 5xx); the transaction goes on with the other recipients. NULL:
 * refuse none. */
void smtp_sink_refuse_rcpt(struct smtp_sink *sink, const char *address, int code);

/* Hold the answer to each completed DATA transfer for ms milliseconds (the
 * value in force when the transfer ends applies). The message is stored
 * after the delay even if the client went away meanwhile, as a real server
 * that had taken responsibility for it would. 0: answer at once. */
void smtp_sink_delay_ms(struct smtp_sink *sink, int ms);

/* Forget stored messages and counters; stop failing, refusing and
 * delaying. */
void smtp_sink_reset(struct smtp_sink *sink);

/* Close the listener and every connection, join all threads, free all.
 * NULL is accepted. */
void smtp_sink_stop(struct smtp_sink *sink);

#endif
