/*
 * test_records.c -- CSV (RFC 4180) and NDJSON records from a stream:
 * quoting, embedded commas, quotes and newlines, CRLF, the BOM, physical
 * line numbers, structural errors, length bounds, and pieces that split
 * the input anywhere.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/records.h"
#include "nexus/core/xmem.h"

#include <stdio.h>
#include <string.h>

/* Each record as "line:field|field|..." or "line!error", joined by "\n". */
static enum nx_err collect(void *ctx, const struct record *rec) {
    struct buf *out = ctx;
    if (out->len)
        buf_puts(out, "\n");
    if (rec->error) {
        buf_printf(out, "%ld!%s", rec->line, rec->error);
        return NX_OK;
    }
    buf_printf(out, "%ld:", rec->line);
    for (size_t i = 0; i < rec->count; i++) {
        if (i)
            buf_puts(out, "|");
        buf_append(out, rec->fields[i].ptr, rec->fields[i].len);
    }
    return NX_OK;
}

/* Read input in pieces of piece bytes (0: all at once). */
static char *read_all(enum record_format f, const char *input, size_t len, size_t piece,
                      size_t max) {
    struct buf out = {0};
    buf_puts(&out, "");
    struct records *r = records_new(f, max, collect, &out);
    size_t step = piece ? piece : (len ? len : 1);
    for (size_t at = 0; at < len; at += step)
        assert_int_equal(records_feed(r, input + at, at + step > len ? len - at : step), NX_OK);
    assert_int_equal(records_finish(r), NX_OK);
    records_free(r);
    return buf_take(&out, NULL);
}

/* The same answer whatever the piece size, for len bytes of input. */
static void expect_bytes(enum record_format f, const char *input, size_t len, const char *want) {
    for (size_t piece = 0; piece <= 4; piece++) {
        char *got = read_all(f, input, len, piece, 1024);
        if (strcmp(got, want) != 0)
            fprintf(stderr, "pieces of %zu: got\n%s\nwant\n%s\n", piece, got, want);
        assert_string_equal(got, want);
        free(got);
    }
}

static void expect(enum record_format f, const char *input, const char *want) {
    expect_bytes(f, input, strlen(input), want);
}

static void test_csv_plain_rows_with_lf_and_crlf(void **state) {
    (void)state;
    expect(RECORD_CSV, "sku,name\nA,Lamp\r\nB,Desk", "1:sku|name\n2:A|Lamp\n3:B|Desk");
    expect(RECORD_CSV, "a,,c\n,b\n", "1:a||c\n2:|b");
}

static void test_csv_quoted_fields_hold_commas_quotes_and_newlines(void **state) {
    (void)state;
    expect(RECORD_CSV, "\"a,b\",\"say \"\"hi\"\"\"\n\"two\nlines\",x\nnext,row\n",
           "1:a,b|say \"hi\"\n2:two\nlines|x\n4:next|row");
    expect(RECORD_CSV, "\"cr\r\nlf\",\"\"\r\n", "1:cr\r\nlf|");
}

static void test_csv_bom_and_empty_lines_are_skipped(void **state) {
    (void)state;
    expect(RECORD_CSV, "\xef\xbb\xbfsku\n\nA\n\r\nB\n", "1:sku\n3:A\n5:B");
    /* spaces and tabs alone are a blank line too, as in NDJSON; quoted, a value */
    expect(RECORD_CSV, "sku\n \t \nA\n\" \"\n", "1:sku\n3:A\n4: ");
    /* A partial BOM is data. */
    expect(RECORD_CSV, "\xef\xbbx\n", "1:\xef\xbbx");
}

/* A row of separators alone is what a spreadsheet leaves of a row it
 * cleared: a blank line, as are spaces and tabs between them. A quoted
 * cell, even an empty one, is a value. */
static void test_csv_rows_of_separators_alone_are_blank_lines(void **state) {
    (void)state;
    expect(RECORD_CSV, "sku,name,price\n,,\r\n , \t,\nA,B,1\n,,\n", "1:sku|name|price\n4:A|B|1");
    expect(RECORD_CSV, "sku,name\n\"\",\n,\"\"\n,x\n", "1:sku|name\n2:|\n3:|\n4:|x");
}

static void test_csv_structural_errors_keep_their_line(void **state) {
    (void)state;
    expect(RECORD_CSV, "ok\nab\"c\nfine\n", "1:ok\n2!a quote inside an unquoted field\n3:fine");
    expect(RECORD_CSV, "\"a\"b,c\nnext\n", "1!text after a closing quote\n2:next");
    expect(RECORD_CSV, "first\n\"open\nstill", "1:first\n2!a quoted field is not closed");
}

/* A NUL byte would cut a field short where it is read as text: the row
 * is refused, in either format, quoted or not, and the next one read. */
static void test_a_nul_byte_refuses_its_row(void **state) {
    (void)state;
    static const char CSV[] = "sku\nPD-1\0-other\n\"a\0b\"\nok\n";
    static const char NDJSON[] = "{\"sku\":\"A\0B\"}\n{}\n";
    for (size_t piece = 0; piece <= 4; piece++) {
        char *got = read_all(RECORD_CSV, CSV, sizeof CSV - 1, piece, 1024);
        assert_string_equal(got, "1:sku\n2!the row contains a NUL byte\n"
                                 "3!the row contains a NUL byte\n4:ok");
        free(got);
        got = read_all(RECORD_NDJSON, NDJSON, sizeof NDJSON - 1, piece, 1024);
        assert_string_equal(got, "1!the row contains a NUL byte\n2:{}");
        free(got);
    }
}

static void test_csv_a_lone_cr_is_data(void **state) {
    (void)state;
    expect(RECORD_CSV, "a\rb,c\n", "1:a\rb|c");
}

static void test_ndjson_lines_with_crlf_and_blank_lines(void **state) {
    (void)state;
    expect(RECORD_NDJSON, "{\"a\":1}\r\n\n  \t\n{\"b\":\"x,y\"}", "1:{\"a\":1}\n4:{\"b\":\"x,y\"}");
    expect(RECORD_NDJSON, "\xef\xbb\xbf{}\n", "1:{}");
}

static void test_records_over_the_limit_are_errors(void **state) {
    (void)state;
    char *got = read_all(RECORD_CSV, "abcdef,g\nok\n", 12, 0, 4);
    assert_string_equal(got, "1!the row is too long: a row is at most 4 bytes\n2:ok");
    free(got);
    got = read_all(RECORD_NDJSON, "{\"long\":1}\n{}\n", 14, 3, 5);
    assert_string_equal(got, "1!the row is too long: a row is at most 5 bytes\n2:{}");
    free(got);
}

#define NOT_UTF8 "1!the file must be UTF-8 text (it looks like UTF-%s)"

/* An upload in UTF-16 or UTF-32 (a byte order mark, or a first line whose
 * NUL bytes all fall at even or all at odd offsets) is one record, its
 * first line's, with the error that says so; nothing after it is read. A
 * UTF-8 line with a NUL byte is only that row's error. */
static void test_utf16_and_utf32_uploads_are_one_error(void **state) {
    (void)state;
    char want16[80], want32[80];
    snprintf(want16, sizeof want16, NOT_UTF8, "16");
    snprintf(want32, sizeof want32, NOT_UTF8, "32");
    expect_bytes(RECORD_CSV, "\xff\xfes\0k\0u\0\r\0\n\0A\0\r\0\n\0", 18, want16);
    expect_bytes(RECORD_NDJSON, "\xfe\xff\0{\0}\0\n\0{\0}\0\n", 14, want16);
    expect_bytes(RECORD_CSV, "s\0k\0u\0\n\0A\0\n\0", 14, want16);
    expect_bytes(RECORD_NDJSON, "\0{\0}\0\n\0{\0}\0\n", 12, want16);
    expect_bytes(RECORD_CSV, "\xff\xfe\0\0s\0\0\0\n\0\0\0", 12, want32);
    expect_bytes(RECORD_NDJSON, "\0\0\xfe\xff\0\0\0{", 8, want32);
    expect_bytes(RECORD_CSV, "\xff\xfe", 2, want16);
    expect_bytes(RECORD_NDJSON, "{\"a\":\"b\0c\"}\n{}\n", 15,
                 "1!the row contains a NUL byte\n2:{}");
    expect_bytes(RECORD_CSV, "sku\nA\0\0\0\n", 9, "1:sku\n2!the row contains a NUL byte");
}

static void test_too_many_fields_is_an_error(void **state) {
    (void)state;
    struct buf in = {0};
    for (int i = 0; i < 1100; i++)
        buf_puts(&in, "x,");
    buf_puts(&in, "\nok\n");
    char *got = read_all(RECORD_CSV, in.data, in.len, 7, 1 << 20);
    assert_string_equal(got, "1!the row has more than 1024 fields\n2:ok");
    free(got);
    buf_clear(&in);
}

/* ---- resuming at a record's offset -------------------------------------- */

struct positions {
    struct records *reader;
    long lines[16];
    long long offsets[16];
    size_t count;
    struct buf text; /* the records, as collect writes them */
};

static enum nx_err note_position(void *ctx, const struct record *rec) {
    struct positions *p = ctx;
    p->lines[p->count] = rec->line;
    p->offsets[p->count++] = records_record_offset(p->reader);
    return collect(&p->text, rec);
}

/* Read input from offset (0: from the start, BOM and all), one byte at a
 * time, noting where each record starts. */
static void read_from(struct positions *p, enum record_format f, const char *input, long line,
                      long long offset) {
    *p = (struct positions){0};
    buf_puts(&p->text, "");
    p->reader = records_new(f, 1024, note_position, p);
    if (offset)
        records_resume(p->reader, line, offset);
    for (size_t at = (size_t)offset; at < strlen(input); at++)
        assert_int_equal(records_feed(p->reader, input + at, 1), NX_OK);
    assert_int_equal(records_finish(p->reader), NX_OK);
    assert_int_equal(records_offset(p->reader), (long long)strlen(input));
    records_free(p->reader);
}

/* A reader resumed at any record's offset and line reads exactly the
 * records from that one on, with the same lines and offsets. */
static void expect_resumable(enum record_format f, const char *input, size_t records) {
    struct positions all, rest;
    read_from(&all, f, input, 1, 0);
    assert_int_equal(all.count, records);
    for (size_t k = 1; k < all.count; k++) {
        read_from(&rest, f, input, all.lines[k], all.offsets[k]);
        assert_int_equal(rest.count, all.count - k);
        for (size_t i = 0; i < rest.count; i++) {
            assert_int_equal(rest.lines[i], all.lines[k + i]);
            assert_int_equal(rest.offsets[i], all.offsets[k + i]);
        }
        const char *tail = all.text.data;
        for (size_t i = 0; i < k; i++)
            tail = strchr(tail, '\n') + 1; /* no record here holds a newline */
        assert_string_equal(rest.text.data, tail);
        buf_clear(&rest.text);
    }
    buf_clear(&all.text);
}

static void test_a_reader_resumes_at_a_record_offset(void **state) {
    (void)state;
    expect_resumable(RECORD_CSV,
                     "\xef\xbb\xbf"
                     "a,b\r\n1,\"x\"\"y\"\r\n\r\n2,\"p q\"\n3,z",
                     4);
    expect_resumable(RECORD_NDJSON, "{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}\n", 3);
    /* the first record's offset counts the BOM */
    struct positions p;
    read_from(&p, RECORD_CSV,
              "\xef\xbb\xbf"
              "a\nb\n",
              1, 0);
    assert_int_equal(p.offsets[0], 3);
    assert_int_equal(p.offsets[1], 5);
    buf_clear(&p.text);
    read_from(&p, RECORD_CSV, "\xef\xbbx\n", 1, 0); /* half a BOM is data */
    assert_int_equal(p.offsets[0], 0);
    buf_clear(&p.text);
}

static void test_empty_input_has_no_records(void **state) {
    (void)state;
    expect(RECORD_CSV, "", "");
    expect(RECORD_NDJSON, "\n\n", "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_plain_rows_with_lf_and_crlf),
        cmocka_unit_test(test_csv_quoted_fields_hold_commas_quotes_and_newlines),
        cmocka_unit_test(test_csv_bom_and_empty_lines_are_skipped),
        cmocka_unit_test(test_a_nul_byte_refuses_its_row),
        cmocka_unit_test(test_csv_structural_errors_keep_their_line),
        cmocka_unit_test(test_csv_a_lone_cr_is_data),
        cmocka_unit_test(test_csv_rows_of_separators_alone_are_blank_lines),
        cmocka_unit_test(test_ndjson_lines_with_crlf_and_blank_lines),
        cmocka_unit_test(test_records_over_the_limit_are_errors),
        cmocka_unit_test(test_utf16_and_utf32_uploads_are_one_error),
        cmocka_unit_test(test_too_many_fields_is_an_error),
        cmocka_unit_test(test_a_reader_resumes_at_a_record_offset),
        cmocka_unit_test(test_empty_input_has_no_records),
    };
    return cmocka_run_group_tests_name("records", tests, NULL, NULL);
}
