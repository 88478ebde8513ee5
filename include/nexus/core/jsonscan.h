/*
 * jsonscan.h -- a cursor over JSON text, for reading a few values of a
 * document without a tree.
 *
 * Made for PostgreSQL's jsonb output (white space between tokens, no
 * duplicate keys), which the server reads back in hot paths. Values are
 * spans of the text: nothing is copied or unescaped. Nesting is skipped by
 * counting brackets, without recursion, so any depth costs no stack.
 * Malformed text makes the scanner bad: every later step answers false and
 * the caller falls back to a full parser (the text is trusted to be JSON,
 * but reading it never goes past its end).
 */
#ifndef NEXUS_CORE_JSONSCAN_H
#define NEXUS_CORE_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

struct jsonscan {
    const char *p, *end;
    bool bad;
};

/* A span of the text: a whole value, or a string's content (between its
 * quotes, still escaped). */
struct jsonspan {
    const char *s;
    size_t len;
};

void jsonscan_init(struct jsonscan *js, const char *text, size_t len);

/* The first byte of the next value ('{', '[', '"', 't', 'f', 'n', or a
 * number's first), or 0 at the end or when bad. */
char jsonscan_peek(struct jsonscan *js);

/* The next value's span, the cursor past it. */
bool jsonscan_value(struct jsonscan *js, struct jsonspan *v);

/* The next value is a string: its content, the cursor past it. */
bool jsonscan_string(struct jsonscan *js, struct jsonspan *content);

/* Step into the next value, an object ('{') or an array ('['). */
bool jsonscan_open(struct jsonscan *js, char open);

/* Inside a container opened with jsonscan_open: true when another element
 * follows (its separator consumed; *first says whether one came before
 * and is cleared), false at the container's end (consumed) or when bad. */
bool jsonscan_more(struct jsonscan *js, char close, bool *first);

/* Inside an object, at a member: its key's content and the ':' after it. */
bool jsonscan_key(struct jsonscan *js, struct jsonspan *key);

/* Whether a string's content has an escape (then it is not its value). */
bool jsonspan_escaped(struct jsonspan content);

/* Whether a string's content equals s (without escapes). */
bool jsonspan_is(struct jsonspan content, const char *s);

#endif
