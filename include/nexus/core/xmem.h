/*
 * xmem.h -- allocation that aborts on out-of-memory.
 *
 * A server that cannot allocate a few bytes cannot answer sanely either, so
 * OOM is treated as a broken invariant. Large, input-driven allocations are
 * bounded by their callers before they get here.
 */
#ifndef NEXUS_CORE_XMEM_H
#define NEXUS_CORE_XMEM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
/* Resize p; on success the old pointer is dead. Never returns NULL. */
void *xrealloc(void *p, size_t n);
/* Return an owned copy of s (or of its first n bytes, NUL-terminated). */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* A growable byte buffer, always NUL-terminated. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Room for extra more bytes (and a terminator) without growing. */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Append s as a quoted JSON string, escaping quotes, backslashes and control
 * characters. Well-formed UTF-8 is copied as it is; each byte of anything
 * else becomes U+FFFD, so the result is always valid JSON whatever s holds. */
void buf_json_string(struct buf *b, const char *s, size_t n);
/* The same, escaped byte for byte as jansson's encoder does (\b \t \n \f
 * \r, other control characters as \u00XX in upper case), so a response
 * written with core/jsonw.h equals one dumped by jansson. */
void buf_json_text(struct buf *b, const char *s, size_t n);
/* Whether s[0..n) is well-formed UTF-8 (no overlong form, surrogate or
 * code point beyond U+10FFFF): what jansson accepts in a string, checked
 * without a copy. */
bool utf8_valid(const char *s, size_t n);
/* Drop from the NUL-terminated s, in place, every character cut short
 * (its first bytes without the rest, as a precision or a length limit
 * leaves it); other malformed bytes stay. The length left. */
size_t utf8_drop_cut(char *s);
/* How many bytes of s[0..n) to keep to cut it after max bytes without
 * cutting a character: n when n <= max, else max, or past max to the end
 * of the well-formed character byte max falls inside (at most max + 3).
 * For a message that quotes the client's text in a few bytes. */
size_t utf8_prefix(const char *s, size_t n, size_t max);
/* Append s[0..n) with each byte that begins no well-formed character
 * replaced by U+FFFD: text that any JSON encoder takes. */
void buf_utf8(struct buf *b, const char *s, size_t n);
/* Hand the bytes over to the caller (who frees them) and reset the buffer. */
char *buf_take(struct buf *b, size_t *len);
/* buf_take, with each byte that begins no well-formed character replaced
 * by U+FFFD: for text a JSON response carries (jansson takes no string
 * that is not UTF-8). */
char *buf_take_utf8(struct buf *b);
void buf_clear(struct buf *b);

#endif
