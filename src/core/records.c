/*
 * records.c -- CSV and NDJSON records from a byte stream: see records.h.
 *
 * One state machine per format, driven a byte at a time, so that a piece
 * may end anywhere (inside a quoted field, between the CR and the LF of a
 * CRLF). The record being read lives in one buffer, its fields separated
 * by NUL bytes, with their offsets and lengths beside it.
 */
#include "nexus/core/records.h"

#include "nexus/core/xmem.h"

#include <stdio.h>
#include <string.h>

enum state {
    AT_FIELD_START, /* nothing of the current field read yet */
    IN_UNQUOTED,
    IN_QUOTED,
    AFTER_QUOTE, /* a quote inside a quoted field: its end, or the first of "" */
};

struct records {
    enum record_format format;
    size_t max_bytes;
    record_fn fn;
    void *ctx;

    enum state state;
    bool pending_cr;      /* a CR outside quotes, not yet known to start a CRLF */
    unsigned bom_seen;    /* bytes of a leading BOM matched so far */
    bool past_start;      /* the first byte that is not a BOM was seen */
    long line;            /* physical line of the next byte */
    long record_line;     /* line the current record started on */
    long long pos;        /* offset in the upload of the next byte */
    long long record_pos; /* offset of the current record's first byte */
    bool record_started;  /* a byte of the current record was read */
    bool quoted;          /* CSV: a field of the current record was quoted */
    const char *error;    /* the current record's first structural error */
    bool oversize;        /* the current record went over max_bytes */
    size_t text_bytes;    /* field bytes of the current record */
    struct buf text;      /* field bytes, each field followed by a NUL */
    size_t starts[NX_RECORD_MAX_FIELDS];
    size_t lens[NX_RECORD_MAX_FIELDS];
    size_t count;       /* fields ended so far */
    size_t field_start; /* offset of the open field in text */

    char too_long[64]; /* the error of a record over max_bytes, which it names */
    /* What tells a file in UTF-16 or UTF-32: its first bytes (those read
     * from offset 0 on), and the bytes of its first line with its NUL
     * bytes by the parity of their offset. */
    unsigned char head[4];
    unsigned head_len;
    long long line1_bytes, line1_nuls[2];
    bool stopped; /* the upload is no UTF-8 text: the rest is not read */
};

static const char TOO_MANY_FIELDS[] = "the row has more than 1024 fields";
static const char STRAY_QUOTE[] = "a quote inside an unquoted field";
static const char AFTER_CLOSING[] = "text after a closing quote";
static const char UNTERMINATED[] = "a quoted field is not closed";
/* A field is read as text up to its first NUL: one inside would cut it
 * short (a SKU "A\0B" would name product A). */
static const char NUL_BYTE[] = "the row contains a NUL byte";
/* A spreadsheet's "Unicode text" is UTF-16: read a byte at a time, each
 * of its rows would only be said to hold NUL bytes. */
static const char UTF16[] = "the file must be UTF-8 text (it looks like UTF-16)";
static const char UTF32[] = "the file must be UTF-8 text (it looks like UTF-32)";

struct records *records_new(enum record_format format, size_t max_bytes, record_fn fn, void *ctx) {
    struct records *r = xcalloc(1, sizeof *r);
    r->format = format;
    r->max_bytes = max_bytes;
    r->fn = fn;
    r->ctx = ctx;
    r->line = 1;
    r->record_line = 1;
    snprintf(r->too_long, sizeof r->too_long, "the row is too long: a row is at most %zu bytes",
             max_bytes);
    return r;
}

void records_free(struct records *r) {
    if (!r)
        return;
    buf_clear(&r->text);
    free(r);
}

long records_line(const struct records *r) {
    return r->line;
}

long long records_record_offset(const struct records *r) {
    return r->record_pos;
}

long long records_offset(const struct records *r) {
    return r->pos;
}

void records_resume(struct records *r, long line, long long offset) {
    r->past_start = true;
    r->line = r->record_line = line;
    r->pos = r->record_pos = offset;
}

static void fail(struct records *r, const char *why) {
    if (!r->error)
        r->error = why;
}

static void put(struct records *r, char c) {
    if (c == '\0')
        fail(r, NUL_BYTE);
    if (r->oversize)
        return;
    if (++r->text_bytes > r->max_bytes) {
        r->oversize = true;
        return;
    }
    buf_append(&r->text, &c, 1);
}

static void end_field(struct records *r) {
    if (r->oversize)
        return;
    if (r->count == NX_RECORD_MAX_FIELDS) {
        fail(r, TOO_MANY_FIELDS);
        return;
    }
    r->starts[r->count] = r->field_start;
    r->lens[r->count] = r->text.len - r->field_start;
    r->count++;
    buf_append(&r->text, "", 1); /* the NUL after the field */
    r->field_start = r->text.len;
}

static void reset_record(struct records *r) {
    r->text.len = 0;
    if (r->text.data)
        r->text.data[0] = '\0';
    r->count = 0;
    r->field_start = 0;
    r->text_bytes = 0;
    r->error = NULL;
    r->oversize = false;
    r->record_started = false;
    r->quoted = false;
    r->state = AT_FIELD_START;
}

/* Whether the record is a blank line: nothing but spaces and tabs, and in
 * CSV commas, none of it inside quotes. A row of separators alone (",,,")
 * is what a spreadsheet leaves of a row it cleared; a quoted cell, even an
 * empty one, is a value someone wrote. */
static bool is_blank(const struct records *r) {
    if (r->oversize || r->error || r->quoted)
        return false;
    for (size_t i = 0; i < r->count; i++)
        if (strspn(r->text.data + r->starts[i], " \t") != r->lens[i])
            return false;
    return true;
}

/* Whether the bytes at the start of the upload are b (n of them). */
static bool starts_with(const struct records *r, const char *b, unsigned n) {
    return r->head_len >= n && memcmp(r->head, b, n) == 0;
}

/* What the upload is when it is UTF-16 or UTF-32 text rather than UTF-8
 * (NULL: neither), told by its first line: a byte order mark of either,
 * or NUL bytes all at even or all at odd offsets, a quarter of its bytes
 * or more (the zero halves of ASCII characters in UTF-16). */
static const char *wide_encoding(const struct records *r) {
    if (starts_with(r, "\xff\xfe\0\0", 4) || starts_with(r, "\0\0\xfe\xff", 4))
        return UTF32;
    if (starts_with(r, "\xff\xfe", 2) || starts_with(r, "\xfe\xff", 2))
        return UTF16;
    long long nuls = r->line1_nuls[0] + r->line1_nuls[1];
    bool one_parity = r->line1_nuls[0] == 0 || r->line1_nuls[1] == 0;
    return nuls > 0 && one_parity && nuls * 4 >= r->line1_bytes ? UTF16 : NULL;
}

/* Hand the record over unless it is a blank line; start the next. The
 * first line of an upload in UTF-16 or UTF-32 is handed over as the
 * upload's one record, fatal, and the rest is not read. */
static enum nx_err deliver(struct records *r) {
    struct record_field fields[NX_RECORD_MAX_FIELDS];
    const char *wide = r->record_line == 1 ? wide_encoding(r) : NULL;
    bool blank = !wide && is_blank(r);
    enum nx_err e = NX_OK;
    if (!blank) {
        for (size_t i = 0; i < r->count; i++)
            fields[i] = (struct record_field){r->text.data + r->starts[i], r->lens[i]};
        struct record rec = {r->record_line, fields, r->oversize || wide ? 0 : r->count,
                             wide          ? wide
                             : r->oversize ? r->too_long
                                           : r->error,
                             wide != NULL};
        r->stopped = wide != NULL;
        e = r->fn(r->ctx, &rec);
    }
    reset_record(r);
    r->record_line = r->line;
    return e;
}

/* The end of a line outside quotes: the end of the record. */
static enum nx_err end_record(struct records *r) {
    end_field(r);
    return deliver(r);
}

/* A comma, LF or CR outside quotes; false for any other byte. */
static bool csv_separator(struct records *r, char c, enum nx_err *e) {
    if (c == ',') {
        end_field(r);
        r->state = AT_FIELD_START;
    } else if (c == '\n') {
        *e = end_record(r);
    } else if (c == '\r') {
        r->pending_cr = true;
    } else {
        return false;
    }
    return true;
}

static enum nx_err csv_byte(struct records *r, char c) {
    enum nx_err e = NX_OK;
    switch (r->state) {
    case AT_FIELD_START:
        if (c == '"') {
            r->state = IN_QUOTED;
            r->quoted = true;
            return NX_OK;
        }
        r->state = IN_UNQUOTED;
        /* fall through */
    case IN_UNQUOTED:
        if (!csv_separator(r, c, &e)) {
            if (c == '"')
                fail(r, STRAY_QUOTE);
            put(r, c);
        }
        return e;
    case IN_QUOTED:
        if (c == '"')
            r->state = AFTER_QUOTE;
        else
            put(r, c);
        return NX_OK;
    case AFTER_QUOTE:
        if (c == '"') {
            put(r, '"');
            r->state = IN_QUOTED;
        } else if (!csv_separator(r, c, &e)) {
            fail(r, AFTER_CLOSING);
            put(r, c);
            r->state = IN_UNQUOTED;
        }
        return e;
    }
    return NX_OK;
}

static enum nx_err ndjson_byte(struct records *r, char c) {
    if (c == '\n')
        return end_record(r);
    if (c == '\r')
        r->pending_cr = true;
    else
        put(r, c);
    return NX_OK;
}

/* A CR outside quotes that was not followed by LF is data. */
static enum nx_err settle_cr(struct records *r, char next) {
    r->pending_cr = false;
    if (next == '\n')
        return NX_OK;
    if (r->format == RECORD_CSV && r->state == AFTER_QUOTE) {
        fail(r, AFTER_CLOSING);
        r->state = IN_UNQUOTED;
    }
    put(r, '\r');
    return NX_OK;
}

/* The leading UTF-8 BOM (EF BB BF) is skipped; a partial match is data. */
static const unsigned char BOM[3] = {0xef, 0xbb, 0xbf};

static enum nx_err one_byte(struct records *r, char c);

static enum nx_err start_byte(struct records *r, char c) {
    if ((unsigned char)c == BOM[r->bom_seen]) {
        r->pos++;
        if (++r->bom_seen == sizeof BOM)
            r->past_start = true;
        return NX_OK;
    }
    r->past_start = true;
    r->pos -= r->bom_seen; /* the bytes taken for a BOM are data after all */
    enum nx_err e = NX_OK;
    for (unsigned i = 0; i < r->bom_seen && e == NX_OK; i++)
        e = one_byte(r, (char)BOM[i]);
    return e == NX_OK ? one_byte(r, c) : e;
}

/* The first bytes of the upload, and the NUL bytes of its first line. */
static void note_encoding(struct records *r, char c) {
    if (r->head_len < sizeof r->head && r->pos == r->head_len)
        r->head[r->head_len++] = (unsigned char)c;
    if (r->line == 1) {
        r->line1_bytes++;
        r->line1_nuls[r->pos & 1] += c == '\0';
    }
}

static enum nx_err one_byte(struct records *r, char c) {
    enum nx_err e = NX_OK;
    if (r->pending_cr)
        e = settle_cr(r, c);
    if (e != NX_OK)
        return e;
    if (!r->record_started) {
        r->record_started = true;
        r->record_line = r->line;
        r->record_pos = r->pos;
    }
    note_encoding(r, c);
    e = r->format == RECORD_CSV ? csv_byte(r, c) : ndjson_byte(r, c);
    if (c == '\n')
        r->line++;
    r->pos++;
    return e;
}

enum nx_err records_feed(struct records *r, const char *data, size_t len) {
    enum nx_err e = NX_OK;
    for (size_t i = 0; i < len && e == NX_OK && !r->stopped; i++)
        e = r->past_start ? one_byte(r, data[i]) : start_byte(r, data[i]);
    return e;
}

enum nx_err records_finish(struct records *r) {
    enum nx_err e = NX_OK;
    if (r->stopped)
        return NX_OK;
    if (!r->past_start) { /* the whole upload was (part of) a BOM */
        r->past_start = true;
        r->pos -= r->bom_seen;
        for (unsigned i = 0; i < r->bom_seen && e == NX_OK; i++)
            e = one_byte(r, (char)BOM[i]);
    }
    if (e == NX_OK && r->pending_cr)
        e = settle_cr(r, '\0');
    if (e != NX_OK || !r->record_started)
        return e;
    if (r->format == RECORD_CSV && r->state == IN_QUOTED)
        fail(r, UNTERMINATED);
    return end_record(r);
}
