/*
 * records.h -- a streaming reader of upload records: CSV (RFC 4180) rows
 * and NDJSON lines, each with the physical line it starts on.
 *
 * Bytes are pushed in pieces of any size (a piece may end in the middle of
 * a field, a quoted newline or a CRLF); every complete record is handed to
 * a callback, so memory is bounded by the longest record, never by the
 * upload. A UTF-8 byte order mark at the very start is skipped.
 *
 * CSV: fields separated by ',', records by CRLF or LF; a field in double
 * quotes may hold commas, CR, LF and doubled quotes (""). A quote inside an
 * unquoted field, text after a closing quote and a quoted field still open
 * at the end are errors of that record (it is still delivered, with
 * `error` set, so its line can be reported and the next one read). Blank
 * lines are skipped: nothing but commas, spaces and tabs outside quotes
 * (",,," included: a row a spreadsheet cleared); a quoted cell, even "",
 * makes the line a record.
 *
 * NDJSON: one record per LF-terminated line, a CR before the LF dropped;
 * lines of only spaces and tabs are skipped. The record's one field is the
 * line's text.
 *
 * A record over max_bytes (its text, not counting quotes and separators)
 * is delivered with `error` set and no fields, the error naming the limit.
 *
 * An upload in UTF-16 or UTF-32 (a byte order mark of either, or a first
 * line whose NUL bytes all fall at even or all at odd offsets) is no UTF-8
 * text: its first line is delivered as a `fatal` record with `error` set
 * and no fields, and nothing after it is read.
 */
#ifndef NEXUS_CORE_RECORDS_H
#define NEXUS_CORE_RECORDS_H

#include "nexus/core/err.h"

#include <stdbool.h>
#include <stddef.h>

enum record_format { RECORD_CSV, RECORD_NDJSON };

/* A CSV row's cells: the import's columns and up to 1,000 attr.<key> ones. */
#define NX_RECORD_MAX_FIELDS 1024

struct record_field {
    const char *ptr; /* NUL-terminated, may hold NUL bytes: use len */
    size_t len;
};

/* One record, valid during the callback only. */
struct record {
    long line; /* 1-based physical line of its first byte */
    const struct record_field *fields;
    size_t count;
    const char *error; /* a structural error (the reader's sentence), or NULL */
    bool fatal;        /* the upload cannot be read at all: the last record */
};

/* Called for every record; a non-OK answer stops the reader and is
 * returned by records_feed/records_finish. */
typedef enum nx_err (*record_fn)(void *ctx, const struct record *rec);

struct records;

/* A reader of format; records over max_bytes are errors. Owned by the
 * caller: free with records_free. */
struct records *records_new(enum record_format format, size_t max_bytes, record_fn fn, void *ctx);
void records_free(struct records *r);

/* Push len bytes of the upload. */
enum nx_err records_feed(struct records *r, const char *data, size_t len);

/* The upload ended: deliver the last record if it had no terminator. */
enum nx_err records_finish(struct records *r);

/* Lines consumed so far (the physical line the next byte is on). */
long records_line(const struct records *r);

/* The offset in the upload of the first byte of the record being
 * delivered (during the callback), and of the next byte to be read. */
long long records_record_offset(const struct records *r);
long long records_offset(const struct records *r);

/* Read on from a record boundary: the next byte pushed is the one at
 * offset, on physical line line (a reader that has read nothing yet; no
 * BOM is looked for). */
void records_resume(struct records *r, long line, long long offset);

#endif
