/*
 * fuzz_records.c -- the upload record reader (core/records) on any bytes.
 *
 * The first byte chooses the format (bit 0: CSV or NDJSON), the size of
 * the pieces the rest is fed in (bits 1-4: 1 to 16 bytes) and the record
 * limit (bits 5-7: 8 bytes to 16 KiB); the rest is the upload.
 *
 * Guarantees checked: the records are the same whether the upload comes
 * whole or in pieces; lines start at 1 and never go back; a record has at
 * most NX_RECORD_MAX_FIELDS fields whose text fits the limit, and an oversize one no
 * fields; and for CSV, writing the good records back out with every field
 * quoted and reading that again gives the same fields; a reader resumed
 * at a record's line and offset (as an import restarted after a crash
 * resumes) gives the same records from there on. Every record also
 * goes through the import row validators (model/import_row; for CSV the
 * first record is the header): they answer OK or a validation failure
 * that names at least one error.
 */
#include "nexus/core/records.h"
#include "nexus/core/xmem.h"
#include "nexus/model/import_row.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_records: check failed: %s (line %d)\n", #cond, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct seen {
    struct buf dump;   /* every record, length-prefixed */
    struct buf quoted; /* the good CSV records written back, every field quoted */
    size_t max_bytes;
    long last_line;
    enum record_format format;
    bool have_header;
    struct import_columns cols;
    /* the record to resume at (by its index), and where it was */
    struct records *reader;
    size_t records, pick;
    long pick_line;
    long long pick_offset;
    size_t pick_dump_at;
};

/* One record through the import row validators. */
static void validate_row(struct seen *s, const struct record *rec) {
    struct field_errors errs = {0};
    struct import_row row;
    enum nx_err e;
    if (s->format == RECORD_NDJSON) {
        e = import_row_from_ndjson(&errs, rec, &row);
        import_row_clear(&row);
    } else if (!s->have_header) {
        s->have_header = true;
        e = import_columns_parse(&errs, rec, &s->cols);
    } else {
        e = import_row_from_csv(&errs, &s->cols, rec, &row);
        import_row_clear(&row);
    }
    CHECK(e == NX_OK || e == NX_ERR_VALIDATION);
    CHECK((e == NX_OK) == (fielderr_count(&errs) == 0));
    fielderr_clear(&errs);
}

static void dump_bytes(struct buf *b, const char *p, size_t n) {
    buf_printf(b, "%zu:", n);
    buf_append(b, p, n);
}

static enum nx_err on_record(void *ctx, const struct record *rec) {
    struct seen *s = ctx;
    CHECK(rec->line >= 1 && rec->line >= s->last_line);
    CHECK(rec->count <= NX_RECORD_MAX_FIELDS);
    s->last_line = rec->line;
    if (s->records++ == s->pick) {
        s->pick_line = rec->line;
        s->pick_offset = records_record_offset(s->reader);
        s->pick_dump_at = s->dump.len;
    }
    size_t total = 0;
    for (size_t i = 0; i < rec->count; i++)
        total += rec->fields[i].len;
    CHECK(total <= s->max_bytes);
    validate_row(s, rec);
    buf_printf(&s->dump, "@%ld%c%zu", rec->line, rec->error ? '!' : ':', rec->count);
    for (size_t i = 0; i < rec->count; i++)
        dump_bytes(&s->dump, rec->fields[i].ptr, rec->fields[i].len);
    if (rec->error || rec->count == 0)
        return NX_OK;
    for (size_t i = 0; i < rec->count; i++) {
        buf_puts(&s->quoted, i ? ",\"" : "\"");
        for (size_t k = 0; k < rec->fields[i].len; k++) {
            char c = rec->fields[i].ptr[k];
            buf_append(&s->quoted, c == '"' ? "\"\"" : &c, c == '"' ? 2 : 1);
        }
        buf_puts(&s->quoted, "\"");
    }
    buf_puts(&s->quoted, "\r\n");
    return NX_OK;
}

/* Read an upload into s, in pieces of piece bytes, noting where record
 * pick is (SIZE_MAX: none); resumed at line (0: from the start). */
static void read_from(enum record_format f, const char *p, size_t n, size_t piece, size_t max_bytes,
                      size_t pick, long line, long long offset, struct seen *s) {
    memset(s, 0, sizeof *s);
    s->max_bytes = max_bytes;
    s->format = f;
    s->pick = pick;
    s->last_line = line;
    buf_puts(&s->dump, "");
    buf_puts(&s->quoted, "");
    struct records *r = records_new(f, max_bytes, on_record, s);
    s->reader = r;
    if (line)
        records_resume(r, line, offset);
    for (size_t at = 0; at < n; at += piece)
        CHECK(records_feed(r, p + at, at + piece > n ? n - at : piece) == NX_OK);
    CHECK(records_finish(r) == NX_OK);
    records_free(r);
}

static void read_upload(enum record_format f, const char *p, size_t n, size_t piece,
                        size_t max_bytes, struct seen *s) {
    read_from(f, p, n, piece, max_bytes, SIZE_MAX, 0, 0, s);
}

static void clear(struct seen *s) {
    buf_clear(&s->dump);
    buf_clear(&s->quoted);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    enum record_format f = (data[0] & 1) ? RECORD_NDJSON : RECORD_CSV;
    size_t piece = (size_t)((data[0] >> 1) & 15) + 1;
    unsigned shift = ((data[0] >> 5) & 7u) * 2u;
    size_t max_bytes = (size_t)8 << (shift > 11 ? 11 : shift);
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct seen whole, pieces, resumed;
    /* the record to resume at: one of the first eight, by the size */
    read_from(f, p, n, n ? n : 1, max_bytes, size % 8, 0, 0, &whole);
    read_upload(f, p, n, piece, max_bytes, &pieces);
    CHECK(whole.dump.len == pieces.dump.len &&
          memcmp(whole.dump.data, pieces.dump.data, whole.dump.len) == 0);
    if (f == RECORD_CSV) {
        struct seen again;
        read_upload(RECORD_CSV, whole.quoted.data, whole.quoted.len, 1 + piece, (size_t)1 << 20,
                    &again);
        CHECK(again.quoted.len == whole.quoted.len &&
              memcmp(again.quoted.data, whole.quoted.data, whole.quoted.len) == 0);
        clear(&again);
    }
    if (whole.records > whole.pick) {
        CHECK(whole.pick_offset >= 0 && (size_t)whole.pick_offset <= n);
        size_t at = (size_t)whole.pick_offset, tail = whole.dump.len - whole.pick_dump_at;
        read_from(f, p + at, n - at, piece, max_bytes, SIZE_MAX, whole.pick_line, whole.pick_offset,
                  &resumed);
        CHECK(resumed.dump.len == tail &&
              memcmp(resumed.dump.data, whole.dump.data + whole.pick_dump_at, tail) == 0);
        clear(&resumed);
    }
    clear(&whole);
    clear(&pieces);
    return 0;
}
