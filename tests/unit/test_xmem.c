/*
 * test_xmem.c -- the aborting allocators and the growable byte buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/xmem.h"

#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static struct buf empty_buf(void) {
    struct buf b;
    memset(&b, 0, sizeof b);
    return b;
}

/* Append s as a JSON string to a fresh buffer and compare with want. */
static void assert_json_string(const char *s, size_t n, const char *want) {
    struct buf b = empty_buf();
    buf_json_string(&b, s, n);
    assert_non_null(b.data);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    assert_int_equal(b.data[b.len], '\0');
    buf_clear(&b);
}

/* ---- buf_take (first: this test wants a heap with few freed chunks) --- */

/* A buffer that was never written still hands over a NUL-terminated "":
 * buf_take must write the terminator itself, not rely on an append. */
static void test_take_of_untouched_buffer_is_empty_string(void **state) {
    (void)state;
    /* Make fresh heap bytes non-zero, and drain the tcache of 256-byte
     * chunks so the buffer comes from the perturbed path, not a recycled
     * chunk that happens to start with zero. */
#ifdef M_PERTURB
    mallopt(M_PERTURB, 0x55);
#endif
    void *hold[16];
    for (size_t i = 0; i < 16; i++)
        hold[i] = malloc(256);
    struct buf b = empty_buf();
    size_t len = 99;
    char *p = buf_take(&b, &len);
    for (size_t i = 0; i < 16; i++)
        free(hold[i]);
#ifdef M_PERTURB
    mallopt(M_PERTURB, 0);
#endif
    assert_non_null(p);
    assert_int_equal(len, 0);
    unsigned char first = (unsigned char)p[0];
    free(p);
    assert_int_equal(first, 0);
}

static void test_take_hands_over_bytes_and_resets(void **state) {
    (void)state;
    struct buf b = empty_buf();
    buf_puts(&b, "hello");
    size_t len = 0;
    char *p = buf_take(&b, &len);
    assert_int_equal(len, 5);
    assert_string_equal(p, "hello");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(p);
}

static void test_take_accepts_null_len(void **state) {
    (void)state;
    struct buf b = empty_buf();
    buf_puts(&b, "x");
    char *p = buf_take(&b, NULL);
    assert_string_equal(p, "x");
    free(p);
}

static void test_take_of_appended_empty_is_empty_string(void **state) {
    (void)state;
    struct buf b = empty_buf();
    buf_append(&b, "", 0);
    size_t len = 99;
    char *p = buf_take(&b, &len);
    assert_int_equal(len, 0);
    assert_string_equal(p, "");
    free(p);
}

static void test_buffer_is_reusable_after_take(void **state) {
    (void)state;
    struct buf b = empty_buf();
    buf_puts(&b, "first");
    free(buf_take(&b, NULL));
    buf_puts(&b, "second");
    assert_string_equal(b.data, "second");
    assert_int_equal(b.len, 6);
    buf_clear(&b);
}

/* ---- buf_append and buf_puts -------------------------------------------- */

static void test_append_builds_nul_terminated_text(void **state) {
    (void)state;
    struct buf b = empty_buf();
    buf_append(&b, "ab", 2);
    buf_append(&b, "cde", 3);
    buf_puts(&b, "f");
    assert_int_equal(b.len, 6);
    assert_string_equal(b.data, "abcdef");
    assert_true(b.cap > b.len);
    buf_clear(&b);
}

static void test_append_zero_bytes_to_fresh_buffer_gives_empty_string(void **state) {
    (void)state;
    struct buf b = empty_buf();
    buf_append(&b, NULL, 0);
    assert_non_null(b.data);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    buf_clear(&b);
}

static void test_append_keeps_embedded_nul_bytes(void **state) {
    (void)state;
    struct buf b = empty_buf();
    buf_append(&b, "a\0b", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 4);
    buf_clear(&b);
}

static void test_append_grows_past_initial_capacity(void **state) {
    (void)state;
    struct buf b = empty_buf();
    char chunk[100];
    for (int i = 0; i < 50; i++) {
        memset(chunk, 'a' + i % 26, sizeof chunk);
        buf_append(&b, chunk, sizeof chunk);
    }
    assert_int_equal(b.len, 5000);
    assert_true(b.cap >= 5001);
    for (size_t i = 0; i < b.len; i++)
        if (b.data[i] != (char)('a' + (int)(i / 100) % 26))
            fail_msg("byte %zu is '%c'", i, b.data[i]);
    assert_int_equal(b.data[5000], '\0');
    buf_clear(&b);
}

static void test_append_one_large_block(void **state) {
    (void)state;
    struct buf b = empty_buf();
    size_t n = 1u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'z', n);
    buf_puts(&b, ">");
    buf_append(&b, big, n);
    assert_int_equal(b.len, n + 1);
    assert_int_equal(b.data[0], '>');
    assert_int_equal(b.data[n], 'z');
    assert_int_equal(b.data[n + 1], '\0');
    free(big);
    buf_clear(&b);
}

static void test_clear_resets_and_is_idempotent(void **state) {
    (void)state;
    struct buf b = empty_buf();
    buf_puts(&b, "data");
    buf_clear(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    buf_clear(&b);
    assert_null(b.data);
}

/* ---- buf_printf --------------------------------------------------------- */

static void test_printf_formats_and_appends(void **state) {
    (void)state;
    struct buf b = empty_buf();
    buf_puts(&b, "n=");
    buf_printf(&b, "%d, s=%s, u=%llu", -42, "x", 18446744073709551615ull);
    assert_string_equal(b.data, "n=-42, s=x, u=18446744073709551615");
    assert_int_equal(b.len, strlen(b.data));
    buf_clear(&b);
}

static void test_printf_grows_past_capacity(void **state) {
    (void)state;
    struct buf b = empty_buf();
    char big[3000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "[%s]", big);
    assert_int_equal(b.len, sizeof big + 1);
    assert_int_equal(b.data[0], '[');
    assert_int_equal(b.data[sizeof big - 1], 'q');
    assert_int_equal(b.data[sizeof big], ']');
    assert_int_equal(b.data[b.len], '\0');
    buf_printf(&b, "%s", "!");
    assert_int_equal(b.data[b.len - 1], '!');
    assert_int_equal(b.len, sizeof big + 2);
    buf_clear(&b);
}

static void test_printf_many_small_appends(void **state) {
    (void)state;
    struct buf b = empty_buf();
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%03d,", i);
    assert_int_equal(b.len, 4000);
    assert_memory_equal(b.data, "000,001,", 8);
    assert_memory_equal(b.data + 3996, "999,", 4);
    assert_int_equal(b.data[4000], '\0');
    buf_clear(&b);
}

static void test_printf_empty_output_appends_nothing(void **state) {
    (void)state;
    struct buf b = empty_buf();
    buf_puts(&b, "keep");
    buf_printf(&b, "%s", "");
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    buf_clear(&b);
}

/* ---- buf_json_string ---------------------------------------------------- */

static void test_json_string_quotes_plain_text(void **state) {
    (void)state;
    assert_json_string("abc", 3, "\"abc\"");
    assert_json_string("", 0, "\"\"");
}

static void test_json_string_escapes_quote_and_backslash(void **state) {
    (void)state;
    assert_json_string("a\"b", 3, "\"a\\\"b\"");
    assert_json_string("a\\b", 3, "\"a\\\\b\"");
    assert_json_string("\"\\\"", 3, "\"\\\"\\\\\\\"\"");
}

static void test_json_string_escapes_control_chars_as_u00xx(void **state) {
    (void)state;
    assert_json_string("\n", 1, "\"\\u000a\"");
    assert_json_string("\r\t", 2, "\"\\u000d\\u0009\"");
    assert_json_string("\x01", 1, "\"\\u0001\"");
    assert_json_string("\x1f", 1, "\"\\u001f\"");
    assert_json_string("\x1b[0m", 4, "\"\\u001b[0m\"");
}

static void test_json_string_escapes_nul_within_length(void **state) {
    (void)state;
    assert_json_string("a\0b", 3, "\"a\\u0000b\"");
}

static void test_json_string_reads_only_n_bytes(void **state) {
    (void)state;
    assert_json_string("abcdef", 2, "\"ab\"");
}

static void test_json_string_keeps_space_slash_and_del(void **state) {
    (void)state;
    assert_json_string(" /~\x7f", 4, "\" /~\x7f\"");
}

static void test_json_string_keeps_utf8_bytes(void **state) {
    (void)state;
    static const char s[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    assert_json_string(s, sizeof s - 1, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

/* Each byte that does not belong to a well-formed UTF-8 sequence becomes
 * U+FFFD; the well-formed sequences around it are kept. */
static void test_json_string_replaces_each_ill_formed_utf8_byte(void **state) {
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"\xff\x80", "\"\\ufffd\\ufffd\""},                       /* never in UTF-8; stray */
        {"a\xc3", "\"a\\ufffd\""},                                /* truncated at the end */
        {"\xe2\x82z", "\"\\ufffd\\ufffdz\""},                     /* truncated inside */
        {"\xc0\xaf", "\"\\ufffd\\ufffd\""},                       /* overlong '/' */
        {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},            /* overlong '/' */
        {"\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* overlong '/' */
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},            /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* U+110000 */
        {"\xf5\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* lead byte > F4 */
        {"\xc3\xa9\xff\xc3\xa9", "\"\xc3\xa9\\ufffd\xc3\xa9\""},  /* between good ones */
        {"\xed\x9f\xbf\xf4\x8f\xbf\xbf", "\"\xed\x9f\xbf\xf4\x8f\xbf\xbf\""}, /* the edges */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_json_string(cases[i].in, strlen(cases[i].in), cases[i].want);
}

/* Whatever the bytes, jansson (which checks UTF-8 strictly) parses the result. */
static void test_json_string_of_every_byte_pair_is_valid_json(void **state) {
    (void)state;
    for (unsigned a = 0x80; a < 0x100; a++)
        for (unsigned c = 0; c < 0x100; c++) {
            char s[3] = {(char)a, (char)c, (char)a};
            struct buf b = empty_buf();
            buf_json_string(&b, s, sizeof s);
            json_error_t err;
            json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
            if (!v)
                fail_msg("jansson refused %02x %02x: %s", a, c, err.text);
            json_decref(v);
            buf_clear(&b);
        }
}

static void test_json_string_appends_after_existing_content(void **state) {
    (void)state;
    struct buf b = empty_buf();
    buf_puts(&b, "{\"k\":");
    buf_json_string(&b, "v\n", 2);
    buf_puts(&b, "}");
    assert_string_equal(b.data, "{\"k\":\"v\\u000a\"}");
    buf_clear(&b);
}

static void test_json_string_of_long_text_grows_buffer(void **state) {
    (void)state;
    char s[1000];
    for (size_t i = 0; i < sizeof s; i++)
        s[i] = (char)(i % 2 ? '"' : '\x02');
    struct buf b = empty_buf();
    buf_json_string(&b, s, sizeof s);
    /* 500 quotes become 2 bytes each, 500 control chars 6 each. */
    assert_int_equal(b.len, 2 + 500 * 2 + 500 * 6);
    assert_int_equal(b.data[b.len], '\0');
    buf_clear(&b);
}

static void test_json_string_round_trips_every_ascii_byte_through_jansson(void **state) {
    (void)state;
    char s[128];
    for (size_t i = 0; i < sizeof s; i++)
        s[i] = (char)i;
    struct buf b = empty_buf();
    buf_json_string(&b, s, sizeof s);
    json_error_t err;
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!v)
        fail_msg("jansson refused %s: %s", b.data, err.text);
    assert_true(json_is_string(v));
    assert_int_equal(json_string_length(v), sizeof s);
    assert_memory_equal(json_string_value(v), s, sizeof s);
    json_decref(v);
    buf_clear(&b);
}

static void test_json_string_round_trips_utf8_through_jansson(void **state) {
    (void)state;
    static const char s[] = "\xc3\xa9\"\\\xe2\x82\xac\n\xf0\x9f\x98\x80";
    struct buf b = empty_buf();
    buf_json_string(&b, s, sizeof s - 1);
    json_error_t err;
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY, &err);
    if (!v)
        fail_msg("jansson refused %s: %s", b.data, err.text);
    assert_string_equal(json_string_value(v), s);
    json_decref(v);
    buf_clear(&b);
}

/* ---- allocators --------------------------------------------------------- */

/* utf8_valid accepts exactly what jansson's json_stringn accepts: every
 * sequence of one to three bytes drawn from a set that covers each
 * boundary (ASCII, continuations, overlong leads, surrogates, U+10FFFF),
 * after a run of ASCII so that the eight-byte steps are taken too. */
static void test_utf8_valid_agrees_with_jansson(void **state) {
    (void)state;
    static const unsigned char bytes[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
                                          0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xee,
                                          0xef, 0xf0, 0xf3, 0xf4, 0xf5, 0xff};
    size_t n = sizeof bytes;
    char text[16];
    memcpy(text, "plainasciitext", 13);
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            for (size_t c = 0; c < n; c++) {
                text[13] = (char)bytes[a];
                text[14] = (char)bytes[b];
                text[15] = (char)bytes[c];
                for (size_t len = 14; len <= 16; len++) {
                    json_t *j = json_stringn(text, len);
                    assert_int_equal(utf8_valid(text, len), j != NULL);
                    json_decref(j);
                }
            }
    assert_true(utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* beyond it */
    assert_true(utf8_valid("", 0));
}

static void test_xstrndup_copies_prefix_and_terminates(void **state) {
    (void)state;
    char *p = xstrndup("abcdef", 3);
    assert_string_equal(p, "abc");
    free(p);
    p = xstrndup("a\0b", 3);
    assert_memory_equal(p, "a\0b\0", 4);
    free(p);
    p = xstrndup("", 0);
    assert_string_equal(p, "");
    free(p);
}

static void test_xstrdup_copies(void **state) {
    (void)state;
    const char *src = "copy me";
    char *p = xstrdup(src);
    assert_string_equal(p, src);
    assert_ptr_not_equal(p, src);
    free(p);
}

static void test_xmalloc_zero_returns_freeable_pointer(void **state) {
    (void)state;
    void *p = xmalloc(0);
    assert_non_null(p);
    free(p);
}

static void test_xcalloc_zeroes(void **state) {
    (void)state;
    unsigned char *p = xcalloc(64, 4);
    for (size_t i = 0; i < 256; i++)
        assert_int_equal(p[i], 0);
    free(p);
    p = xcalloc(0, 0);
    assert_non_null(p);
    free(p);
}

static void test_xrealloc_preserves_contents(void **state) {
    (void)state;
    char *p = xmalloc(4);
    memcpy(p, "abc", 4);
    p = xrealloc(p, 4096);
    assert_string_equal(p, "abc");
    p = xrealloc(p, 2);
    assert_memory_equal(p, "ab", 2);
    free(p);
}

/* A character cut short is dropped; any other malformed byte stays. */
static void test_utf8_drop_cut_drops_only_cut_characters(void **state) {
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a\xe2\x82", "a"},
        {"\xe2\x82: bad", ": bad"},
        {"x\xd1", "x"},
        {"\xf0\x9f\x98!", "!"},
        {"\xe2\x82\xac ok", "\xe2\x82\xac ok"},
        {"\xff\xfe", "\xff\xfe"},
        {"\xe0\x80\x80", "\xe0\x80\x80"}, /* overlong, not cut */
        {"\xed\xa0", "\xed\xa0"},         /* a surrogate's start */
        {"\x80x", "\x80x"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[32];
        snprintf(text, sizeof text, "%s", cases[i].in);
        assert_int_equal(utf8_drop_cut(text), strlen(cases[i].out));
        assert_string_equal(text, cases[i].out);
    }
}

static void test_utf8_prefix_never_cuts_a_character(void **state) {
    (void)state;
    static const struct {
        const char *in;
        size_t max, kept;
    } cases[] = {
        {"abc", 5, 3},               /* shorter than max: all of it */
        {"abcdef", 4, 4},            /* ASCII: max */
        {"a\xc3\xa9z", 2, 3},        /* into a 2-byte character: past it */
        {"a\xc3\xa9z", 3, 3},        /* at its end */
        {"\xe2\x82\xac!", 1, 3},     /* after a 3-byte lead */
        {"\xe2\x82\xac!", 2, 3},     /* before its last byte */
        {"\xf0\x9f\x98\x80!", 1, 4}, /* a 4-byte character */
        {"\xf0\x9f\x98\x80!", 3, 4},
        {"\xf0\x9f\x98\x80!", 4, 4},
        {"\x80\x80\x80\x80\x80", 2, 2}, /* stray bytes: max, for the caller to judge */
        {"\xe2\x82", 1, 1},             /* a character cut already: max */
        {"\\\xc3\xa9", 2, 3},
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(utf8_prefix(cases[i].in, strlen(cases[i].in), cases[i].max),
                         cases[i].kept);
}

static void test_buf_utf8_replaces_each_ill_formed_byte(void **state) {
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"\xc3\xa9 \xe2\x82\xac", "\xc3\xa9 \xe2\x82\xac"},
        {"\"\xc3\" x", "\"\xef\xbf\xbd\" x"},                     /* a cut in the middle */
        {"a\xe2\x82", "a\xef\xbf\xbd\xef\xbf\xbd"},               /* each byte */
        {"\xff\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong too */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b = empty_buf();
        buf_puts(&b, "> ");
        buf_utf8(&b, cases[i].in, strlen(cases[i].in));
        assert_string_equal(b.data + 2, cases[i].out);
        assert_true(utf8_valid(b.data, b.len));
        buf_clear(&b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_of_untouched_buffer_is_empty_string),
        cmocka_unit_test(test_take_hands_over_bytes_and_resets),
        cmocka_unit_test(test_take_accepts_null_len),
        cmocka_unit_test(test_take_of_appended_empty_is_empty_string),
        cmocka_unit_test(test_buffer_is_reusable_after_take),
        cmocka_unit_test(test_append_builds_nul_terminated_text),
        cmocka_unit_test(test_append_zero_bytes_to_fresh_buffer_gives_empty_string),
        cmocka_unit_test(test_append_keeps_embedded_nul_bytes),
        cmocka_unit_test(test_append_grows_past_initial_capacity),
        cmocka_unit_test(test_append_one_large_block),
        cmocka_unit_test(test_clear_resets_and_is_idempotent),
        cmocka_unit_test(test_printf_formats_and_appends),
        cmocka_unit_test(test_printf_grows_past_capacity),
        cmocka_unit_test(test_printf_many_small_appends),
        cmocka_unit_test(test_printf_empty_output_appends_nothing),
        cmocka_unit_test(test_json_string_quotes_plain_text),
        cmocka_unit_test(test_json_string_escapes_quote_and_backslash),
        cmocka_unit_test(test_json_string_escapes_control_chars_as_u00xx),
        cmocka_unit_test(test_json_string_escapes_nul_within_length),
        cmocka_unit_test(test_json_string_reads_only_n_bytes),
        cmocka_unit_test(test_json_string_keeps_space_slash_and_del),
        cmocka_unit_test(test_json_string_keeps_utf8_bytes),
        cmocka_unit_test(test_json_string_replaces_each_ill_formed_utf8_byte),
        cmocka_unit_test(test_json_string_of_every_byte_pair_is_valid_json),
        cmocka_unit_test(test_json_string_appends_after_existing_content),
        cmocka_unit_test(test_json_string_of_long_text_grows_buffer),
        cmocka_unit_test(test_json_string_round_trips_every_ascii_byte_through_jansson),
        cmocka_unit_test(test_json_string_round_trips_utf8_through_jansson),
        cmocka_unit_test(test_utf8_valid_agrees_with_jansson),
        cmocka_unit_test(test_xstrndup_copies_prefix_and_terminates),
        cmocka_unit_test(test_xstrdup_copies),
        cmocka_unit_test(test_xmalloc_zero_returns_freeable_pointer),
        cmocka_unit_test(test_xcalloc_zeroes),
        cmocka_unit_test(test_xrealloc_preserves_contents),
        cmocka_unit_test(test_utf8_drop_cut_drops_only_cut_characters),
        cmocka_unit_test(test_utf8_prefix_never_cuts_a_character),
        cmocka_unit_test(test_buf_utf8_replaces_each_ill_formed_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
