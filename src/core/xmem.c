/*
 * xmem.c -- allocation helpers that abort on out-of-memory, and a growable
 * byte buffer used to build responses and log lines.
 */
#include "nexus/core/xmem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static void *oom(size_t n) {
    fprintf(stderr, "out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    return p ? p : oom(n);
}

void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    return p ? p : oom(count * size);
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    return q ? q : oom(n);
}

char *xstrndup(const char *s, size_t n) {
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xstrdup(const char *s) {
    return xstrndup(s, strlen(s));
}

void buf_reserve(struct buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void buf_append(struct buf *b, const void *data, size_t n) {
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s) {
    buf_append(b, s, strlen(s));
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    if (n > 0) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void buf_printf(struct buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *buf_take(struct buf *b, size_t *len) {
    buf_reserve(b, 0);
    b->data[b->len] = '\0';
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

char *buf_take_utf8(struct buf *b) {
    if (utf8_valid(b->data ? b->data : "", b->len))
        return buf_take(b, NULL);
    struct buf valid = {0};
    buf_utf8(&valid, b->data, b->len);
    buf_clear(b);
    return buf_take(&valid, NULL);
}

void buf_clear(struct buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/*
 * Length of the well-formed UTF-8 sequence (RFC 3629) that starts s[0..n),
 * or 0 when there is none: a stray continuation byte, a truncated sequence,
 * an overlong form, a surrogate or a code point beyond U+10FFFF.
 */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    unsigned char c = s[0], lo = 0x80, hi = 0xbf; /* bounds of the second byte */
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : lo; /* overlong */
        hi = c == 0xed ? 0x9f : hi; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : lo; /* overlong */
        hi = c == 0xf4 ? 0x8f : hi; /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* One byte that must be escaped: \uXXXX (lower-case hex), or, in jansson
 * style, the short escapes and upper-case hex jansson's encoder writes. */
static void escape_byte(struct buf *b, unsigned char c, bool jansson_style) {
    static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
    const char *hex = jansson_style ? upper : lower;
    static const char shorts[] = "\b\t\n\f\r", letters[] = "btnfr";
    const char *at = jansson_style ? memchr(shorts, c, sizeof shorts - 1) : NULL;
    char esc[6] = {'\\', (char)c};
    size_t n = 2;
    if (at) {
        esc[1] = letters[at - shorts];
    } else if (c != '"' && c != '\\') {
        memcpy(esc + 1, "u00", 3);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        n = 6;
    }
    buf_append(b, esc, n);
}

/* Whether any byte of the 8 in x is below 0x20, at or above 0x80, '"' or
 * '\\' (a zero byte test on x xor each of those): a word of bytes a JSON
 * string cannot hold as they are. */
static bool word_needs_care(uint64_t x) {
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
    uint64_t control = x - ones * 0x20; /* borrows into a byte below 0x20 */
    uint64_t zero_quote = (quote - ones) & ~quote, zero_backslash = (backslash - ones) & ~backslash;
    return ((control & ~x) | zero_quote | zero_backslash | x) & highs;
}

/* Bytes of printable ASCII other than '"' and '\\' at the start of s[0..n):
 * what a JSON string holds as it is, without looking at UTF-8. Sixteen
 * bytes at a time where SSE2 is (every x86-64), then eight, while they
 * are all plain, then byte by byte. */
bool utf8_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint64_t x;
        if (i + 8 <= n && (memcpy(&x, u + i, 8), (x & 0x8080808080808080ULL) == 0)) {
            i += 8; /* eight ASCII bytes */
            continue;
        }
        size_t len = utf8_sequence(u + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

/* How many bytes at s[0..n) begin a well-formed sequence and stop short
 * of its end (a character cut in two), or 0. */
static size_t cut_sequence(const unsigned char *s, size_t n) {
    if (s[0] < 0xc2 || s[0] > 0xf4)
        return 0;
    /* the bytes given, completed with the lowest continuation bytes the
     * lead allows: well-formed and longer than what was given = cut */
    unsigned char whole[4] = {s[0], s[0] == 0xe0 ? 0xa0 : s[0] == 0xf0 ? 0x90 : 0x80, 0x80, 0x80};
    size_t given = 1;
    while (given < 4 && given < n && s[given] >= 0x80 && s[given] <= 0xbf) {
        whole[given] = s[given];
        given++;
    }
    return utf8_sequence(whole, 4) > given ? given : 0;
}

size_t utf8_drop_cut(char *s) {
    unsigned char *u = (unsigned char *)s;
    size_t n = strlen(s), kept = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_sequence(u + i, n - i), cut = len ? 0 : cut_sequence(u + i, n - i);
        if (cut) {
            i += cut;
            continue;
        }
        len = len ? len : 1; /* not cut, just malformed: kept for the caller to judge */
        memmove(u + kept, u + i, len);
        kept += len;
        i += len;
    }
    u[kept] = '\0';
    return kept;
}

size_t utf8_prefix(const char *s, size_t n, size_t max) {
    const unsigned char *u = (const unsigned char *)s;
    if (n <= max)
        return n;
    /* the lead byte of a character byte max is inside is at most 3 before it */
    for (size_t i = max; i > 0 && max - i < 3; i--) {
        unsigned char c = u[i - 1];
        if (c < 0x80)
            break; /* byte max starts a character, or is a stray byte */
        if (c >= 0xc0) {
            size_t end = i - 1 + utf8_sequence(u + i - 1, n - (i - 1));
            return end > max ? end : max;
        }
    }
    return max;
}

void buf_utf8(struct buf *b, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* where the bytes copied as they are begin */
    for (size_t i = 0; i < n;) {
        size_t len = utf8_sequence(u + i, n - i);
        if (len) {
            i += len;
            continue;
        }
        buf_append(b, s + run, i - run);
        buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD REPLACEMENT CHARACTER */
        run = ++i;
    }
    buf_append(b, s + run, n - run);
}

static size_t plain_ascii(const char *s, size_t n) {
    size_t i = 0;
    uint64_t x;
#ifdef __SSE2__
    /* A signed byte below 0x20 is a control character or one of 0x80 and
     * above (negative): one comparison finds both. */
    const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'),
                  backslash = _mm_set1_epi8('\\');
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i care =
            _mm_or_si128(_mm_cmplt_epi8(v, space),
                         _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
        if (_mm_movemask_epi8(care))
            break;
    }
#endif
    for (; i + 8 <= n; i += 8) {
        memcpy(&x, s + i, 8);
        if (word_needs_care(x))
            break;
    }
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            break;
        i++;
    }
    return i;
}

static void json_string_styled(struct buf *b, const char *s, size_t n, bool jansson_style) {
    buf_reserve(b, n + 2);
    b->data[b->len++] = '"';
    size_t plain = plain_ascii(s, n);
    if (plain == n) { /* most strings: one copy into the room reserved */
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len++] = '"';
        b->data[b->len] = '\0';
        return;
    }
    size_t run = 0; /* bytes before i that are copied as they are */
    for (size_t i = plain; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
            continue;
        size_t len = c >= 0x80 ? utf8_sequence((const unsigned char *)s + i, n - i) : 0;
        if (len) {
            i += len - 1;
            continue;
        }
        buf_append(b, s + run, i - run);
        if (c >= 0x80)
            buf_puts(b, "\\ufffd"); /* U+FFFD REPLACEMENT CHARACTER */
        else
            escape_byte(b, c, jansson_style);
        run = i + 1;
    }
    buf_append(b, s + run, n - run);
    buf_append(b, "\"", 1);
}

void buf_json_string(struct buf *b, const char *s, size_t n) {
    json_string_styled(b, s, n, false);
}

void buf_json_text(struct buf *b, const char *s, size_t n) {
    json_string_styled(b, s, n, true);
}
