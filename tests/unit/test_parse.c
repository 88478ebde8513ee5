/*
 * test_parse.c -- the strict parsers of core/parse.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/parse.h"

#include <stdio.h>
#include <string.h>

/* A value no parser produces, to prove *out is left untouched. */
#define SENTINEL INT64_C(-4242)

static bool i64_full(const char *s, int64_t *out) {
    return parse_i64(s, strlen(s), INT64_MIN, INT64_MAX, out);
}

static void assert_i64_ok(const char *s, int64_t want) {
    int64_t v = SENTINEL;
    if (!i64_full(s, &v))
        fail_msg("parse_i64 rejected \"%s\"", s);
    assert_true(v == want);
}

static void assert_i64_rejected(const char *s) {
    int64_t v = SENTINEL;
    if (i64_full(s, &v))
        fail_msg("parse_i64 accepted \"%s\"", s);
    assert_true(v == SENTINEL);
}

static void assert_money_ok(const char *s, int64_t want) {
    int64_t v = SENTINEL;
    if (!parse_money(s, strlen(s), &v))
        fail_msg("parse_money rejected \"%s\"", s);
    if (v != want)
        fail_msg("parse_money(\"%s\") gave %lld, want %lld", s, (long long)v, (long long)want);
}

static void assert_money_rejected(const char *s) {
    int64_t v = SENTINEL;
    if (parse_money(s, strlen(s), &v))
        fail_msg("parse_money accepted \"%s\" as %lld", s, (long long)v);
    assert_true(v == SENTINEL);
}

/* ---- parse_i64 ---------------------------------------------------------- */

static void test_i64_accepts_plain_decimals(void **state) {
    (void)state;
    assert_i64_ok("0", 0);
    assert_i64_ok("5", 5);
    assert_i64_ok("-5", -5);
    assert_i64_ok("1234567890", 1234567890);
}

static void test_i64_accepts_int64_max_exactly(void **state) {
    (void)state;
    assert_i64_ok("9223372036854775807", INT64_MAX);
}

static void test_i64_accepts_int64_min_exactly(void **state) {
    (void)state;
    assert_i64_ok("-9223372036854775808", INT64_MIN);
}

static void test_i64_rejects_overflow_above_max(void **state) {
    (void)state;
    assert_i64_rejected("9223372036854775808");
    assert_i64_rejected("9223372036854775810");
    assert_i64_rejected("18446744073709551616");
    assert_i64_rejected("99999999999999999999999");
}

static void test_i64_rejects_overflow_below_min(void **state) {
    (void)state;
    assert_i64_rejected("-9223372036854775809");
    assert_i64_rejected("-18446744073709551616");
}

static void test_i64_rejects_negative_zero(void **state) {
    (void)state;
    assert_i64_rejected("-0");
}

static void test_i64_rejects_leading_zeros(void **state) {
    (void)state;
    assert_i64_rejected("00");
    assert_i64_rejected("05");
    assert_i64_rejected("-05");
    assert_i64_rejected("0009");
}

static void test_i64_rejects_plus_sign(void **state) {
    (void)state;
    assert_i64_rejected("+5");
    assert_i64_rejected("+0");
}

static void test_i64_rejects_leading_space(void **state) {
    (void)state;
    assert_i64_rejected(" 5");
    assert_i64_rejected("\t5");
}

static void test_i64_rejects_trailing_garbage(void **state) {
    (void)state;
    assert_i64_rejected("5abc");
    assert_i64_rejected("5 ");
    assert_i64_rejected("5\n");
}

static void test_i64_rejects_exponent(void **state) {
    (void)state;
    assert_i64_rejected("1e2");
    assert_i64_rejected("1E2");
}

static void test_i64_rejects_hexadecimal(void **state) {
    (void)state;
    assert_i64_rejected("0x10");
    assert_i64_rejected("0X10");
}

static void test_i64_rejects_fraction(void **state) {
    (void)state;
    assert_i64_rejected("1.5");
    assert_i64_rejected("1.0");
}

static void test_i64_rejects_empty_and_lone_sign(void **state) {
    (void)state;
    assert_i64_rejected("");
    assert_i64_rejected("-");
    assert_i64_rejected("--5");
}

static void test_i64_rejects_embedded_nul_within_length(void **state) {
    (void)state;
    static const char s[] = "12\0003";
    int64_t v = SENTINEL;
    assert_false(parse_i64(s, sizeof s - 1, INT64_MIN, INT64_MAX, &v));
    assert_true(v == SENTINEL);
    static const char t[] = "12\0";
    assert_false(parse_i64(t, sizeof t - 1, INT64_MIN, INT64_MAX, &v));
    assert_true(v == SENTINEL);
}

static void test_i64_reads_only_len_bytes(void **state) {
    (void)state;
    int64_t v = SENTINEL;
    assert_true(parse_i64("123abc", 3, INT64_MIN, INT64_MAX, &v));
    assert_true(v == 123);
    assert_false(parse_i64("123abc", 0, INT64_MIN, INT64_MAX, &v));
}

static void test_i64_enforces_min_and_max_inclusive(void **state) {
    (void)state;
    int64_t v = SENTINEL;
    assert_true(parse_i64("1", 1, 1, 10, &v));
    assert_true(v == 1);
    assert_true(parse_i64("10", 2, 1, 10, &v));
    assert_true(v == 10);
    v = SENTINEL;
    assert_false(parse_i64("0", 1, 1, 10, &v));
    assert_false(parse_i64("11", 2, 1, 10, &v));
    assert_false(parse_i64("-1", 2, 0, 10, &v));
    assert_true(v == SENTINEL);
    assert_true(parse_i64("-3", 2, -5, -1, &v));
    assert_true(v == -3);
}

/* ---- parse_id ----------------------------------------------------------- */

static void test_id_accepts_positive_values(void **state) {
    (void)state;
    int64_t v = SENTINEL;
    assert_true(parse_id("1", 1, &v));
    assert_true(v == 1);
    assert_true(parse_id("9223372036854775807", 19, &v));
    assert_true(v == INT64_MAX);
}

static void test_id_rejects_zero(void **state) {
    (void)state;
    int64_t v = SENTINEL;
    assert_false(parse_id("0", 1, &v));
    assert_true(v == SENTINEL);
}

static void test_id_rejects_negative(void **state) {
    (void)state;
    int64_t v = SENTINEL;
    assert_false(parse_id("-1", 2, &v));
    assert_false(parse_id("-0", 2, &v));
    assert_false(parse_id("-9223372036854775808", 20, &v));
    assert_true(v == SENTINEL);
}

static void test_id_rejects_non_canonical_spellings(void **state) {
    (void)state;
    static const char *const bad[] = {"01", "+1",  " 1", "1 ",
                                      "1a", "0x1", "",   "9223372036854775808"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = SENTINEL;
        if (parse_id(bad[i], strlen(bad[i]), &v))
            fail_msg("parse_id accepted \"%s\"", bad[i]);
        assert_true(v == SENTINEL);
    }
}

/* ---- parse_bool --------------------------------------------------------- */

static void test_bool_accepts_exact_true_and_false(void **state) {
    (void)state;
    bool b = false;
    assert_true(parse_bool("true", 4, &b));
    assert_true(b);
    assert_true(parse_bool("false", 5, &b));
    assert_false(b);
}

static void test_bool_rejects_other_spellings(void **state) {
    (void)state;
    static const char *const bad[] = {"True", "TRUE", "False", "1",     "0",     "",
                                      "yes",  "t",    "f",     "true ", " true", "falsey"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool b = true;
        if (parse_bool(bad[i], strlen(bad[i]), &b))
            fail_msg("parse_bool accepted \"%s\"", bad[i]);
        assert_true(b);
    }
}

static void test_bool_rejects_prefix_by_length(void **state) {
    (void)state;
    bool b = false;
    assert_false(parse_bool("true", 3, &b));
    assert_false(parse_bool("truex", 5, &b));
    assert_false(b);
}

/* ---- parse_money -------------------------------------------------------- */

static void test_money_accepts_whole_units(void **state) {
    (void)state;
    assert_money_ok("5", 500);
    assert_money_ok("0", 0);
    assert_money_ok("123", 12300);
}

static void test_money_accepts_one_decimal_as_tenths(void **state) {
    (void)state;
    assert_money_ok("19.9", 1990);
    assert_money_ok("0.5", 50);
}

static void test_money_accepts_two_decimals(void **state) {
    (void)state;
    assert_money_ok("19.99", 1999);
    assert_money_ok("0.01", 1);
    assert_money_ok("0.00", 0);
}

static void test_money_accepts_maximum(void **state) {
    (void)state;
    assert_money_ok("99999999.99", NX_MONEY_MAX_CENTS);
    assert_money_ok("99999999", INT64_C(9999999900));
}

static void test_money_rejects_above_maximum(void **state) {
    (void)state;
    assert_money_rejected("100000000");
    assert_money_rejected("100000000.00");
    assert_money_rejected("999999999.99");
}

static void test_money_rejects_three_decimals(void **state) {
    (void)state;
    assert_money_rejected("1.999");
    assert_money_rejected("1.000");
}

static void test_money_rejects_comma_separator(void **state) {
    (void)state;
    assert_money_rejected("12,50");
}

static void test_money_rejects_sign(void **state) {
    (void)state;
    assert_money_rejected("-1");
    assert_money_rejected("+1");
    assert_money_rejected("-0");
}

static void test_money_rejects_nan_and_exponent(void **state) {
    (void)state;
    assert_money_rejected("NaN");
    assert_money_rejected("inf");
    assert_money_rejected("1e2");
}

static void test_money_rejects_spaces(void **state) {
    (void)state;
    assert_money_rejected(" 5");
    assert_money_rejected("5 ");
    assert_money_rejected("5. 1");
}

static void test_money_rejects_missing_whole_or_fraction(void **state) {
    (void)state;
    assert_money_rejected(".5");
    assert_money_rejected("5.");
    assert_money_rejected(".");
}

static void test_money_rejects_empty(void **state) {
    (void)state;
    assert_money_rejected("");
}

static void test_money_rejects_two_dots(void **state) {
    (void)state;
    assert_money_rejected("1.2.3");
    assert_money_rejected("1..2");
}

static void test_money_rejects_embedded_nul_within_length(void **state) {
    (void)state;
    static const char s[] = "5\0";
    int64_t v = SENTINEL;
    assert_false(parse_money(s, sizeof s - 1, &v));
    static const char t[] = "5.\0001";
    assert_false(parse_money(t, sizeof t - 1, &v));
    assert_true(v == SENTINEL);
}

/* ---- format_money ------------------------------------------------------- */

static void assert_formats(int64_t cents, const char *want) {
    char buf[NX_MONEY_BUF];
    size_t n = format_money(cents, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format_money_writes_two_decimals(void **state) {
    (void)state;
    assert_formats(500, "5.00");
    assert_formats(1990, "19.90");
    assert_formats(1999, "19.99");
    assert_formats(1, "0.01");
    assert_formats(0, "0.00");
}

static void test_format_money_writes_maximum(void **state) {
    (void)state;
    assert_formats(NX_MONEY_MAX_CENTS, "99999999.99");
}

static void test_format_money_writes_negative_with_sign(void **state) {
    (void)state;
    assert_formats(-150, "-1.50");
    assert_formats(INT64_MIN, "-92233720368547758.08");
}

/* ---- round trip --------------------------------------------------------- */

static void round_trip(int64_t cents) {
    char buf[NX_MONEY_BUF];
    size_t n = format_money(cents, buf, sizeof buf);
    int64_t back = SENTINEL;
    if (!parse_money(buf, n, &back) || back != cents)
        fail_msg("round trip of %lld via \"%s\" gave %lld", (long long)cents, buf, (long long)back);
}

static void test_money_round_trips_small_values(void **state) {
    (void)state;
    for (int64_t c = 0; c <= 100000; c++)
        round_trip(c);
}

static void test_money_round_trips_across_the_range(void **state) {
    (void)state;
    /* A stride coprime with 100 visits every cents ending. */
    for (int64_t c = 0; c <= NX_MONEY_MAX_CENTS; c += INT64_C(9999991))
        round_trip(c);
    for (int64_t c = NX_MONEY_MAX_CENTS - 1000; c <= NX_MONEY_MAX_CENTS; c++)
        round_trip(c);
    for (int64_t p = 1; p <= NX_MONEY_MAX_CENTS; p *= 10) {
        round_trip(p);
        round_trip(p - 1);
    }
}

/* ---- utf8_lower ------------------------------------------------------------ */

static void assert_lowered(const char *s, const char *want) {
    char out[64];
    size_t n = utf8_lower(s, strlen(s), out, sizeof out);
    if (strcmp(out, want) != 0)
        fail_msg("utf8_lower(\"%s\") gave \"%s\", want \"%s\"", s, out, want);
    assert_int_equal(n, strlen(want));
}

static void test_lower_maps_ascii(void **state) {
    (void)state;
    assert_lowered("Size", "size");
    assert_lowered("COLOR-1 [XL]", "color-1 [xl]");
    assert_lowered("", "");
}

/* As PostgreSQL's lower() in a C.UTF-8 database: select lower('ÉΣİȺK'). */
static void test_lower_maps_beyond_ascii(void **state) {
    (void)state;
    assert_lowered("\xC3\x89", "\xC3\xA9");                 /* É -> é */
    assert_lowered("\xCE\xA3", "\xCF\x83");                 /* Σ -> σ */
    assert_lowered("\xC3\x89PAISSEUR", "\xC3\xA9paisseur"); /* ÉPAISSEUR */
    assert_lowered("\xC8\xBA", "\xE2\xB1\xA5");             /* Ⱥ -> ⱥ: 2 bytes to 3 */
    assert_lowered("\xE2\x84\xAA", "k");                    /* Kelvin sign -> k: 3 to 1 */
    assert_lowered("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80",  /* é€😀 have no lower case */
                   "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
}

static void test_lower_leaves_invalid_bytes_as_they_are(void **state) {
    (void)state;
    assert_lowered("A\xFF"
                   "B",
                   "a\xFF"
                   "b"); /* never a lead byte */
    assert_lowered("A\x80"
                   "B",
                   "a\x80"
                   "b"); /* a lone continuation */
    assert_lowered("\xC3"
                   "A",
                   "\xC3"
                   "a");                                    /* a sequence cut short */
    assert_lowered("\xC0\x81", "\xC0\x81");                 /* overlong */
    assert_lowered("\xED\xA0\x80", "\xED\xA0\x80");         /* a surrogate */
    assert_lowered("\xF4\x90\x80\x80", "\xF4\x90\x80\x80"); /* past U+10FFFF */
    assert_lowered("\xC3\x89\xC3", "\xC3\xA9\xC3");         /* cut short at the end */
}

static void test_lower_reads_only_len_bytes(void **state) {
    (void)state;
    char out[16];
    assert_int_equal(utf8_lower("ABCD", 2, out, sizeof out), 2);
    assert_string_equal(out, "ab");
    /* a sequence len cuts is not read past len: it stays as bytes */
    assert_int_equal(utf8_lower("\xC3\x89", 1, out, sizeof out), 1);
    assert_memory_equal(out, "\xC3", 2);
}

static void test_lower_is_bounded_by_cap(void **state) {
    (void)state;
    char out[8];
    memset(out, 'x', sizeof out);
    assert_int_equal(utf8_lower("ABCDEFGHIJ", 10, out, 4), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(out[4], 'x');
    /* Ⱥ lowers to 3 bytes: with room for 2 it is left out, not cut */
    memset(out, 'x', sizeof out);
    assert_int_equal(utf8_lower("a\xC8\xBA", 3, out, 4), 1);
    assert_string_equal(out, "a");
    assert_int_equal(utf8_lower("AB", 2, out, 1), 0);
    assert_string_equal(out, "");
    assert_int_equal(utf8_lower("AB", 2, out, 0), 0);
    /* 4 bytes a code point hold anything: 2 Ⱥ are 6 bytes lowered */
    char wide[2 * 4 + 1];
    assert_int_equal(utf8_lower("\xC8\xBA\xC8\xBA", 4, wide, sizeof wide), 6);
    assert_string_equal(wide, "\xE2\xB1\xA5\xE2\xB1\xA5");
}

/* Texts compared lower-cased, as option names are: whole, of any length,
 * each character as utf8_lower maps it. */
static void test_same_lower_compares_the_lowered_texts(void **state) {
    (void)state;
    assert_true(utf8_same_lower("\xC3\x89"
                                "cran",
                                "\xC3\xA9"
                                "cran")); /* Écran, écran */
    assert_true(utf8_same_lower("SIZE", "size"));
    assert_true(utf8_same_lower("\xE2\x84\xAA", "k")); /* Kelvin sign, 3 bytes to 1 */
    assert_true(utf8_same_lower("", ""));
    assert_false(utf8_same_lower("\xC3\x89"
                                 "cran",
                                 "ecran"));
    assert_false(utf8_same_lower("Size", "Sizes"));
    assert_false(utf8_same_lower("Sizes", "Size"));
    assert_false(utf8_same_lower("a\xFF", "a"));
    assert_true(utf8_same_lower("A\xFF", "a\xFF")); /* a byte starting nothing is itself */
    char a[300], b[300];                            /* past any fixed buffer of folded names */
    memset(a, 'A', sizeof a - 1);
    memset(b, 'a', sizeof b - 1);
    a[sizeof a - 1] = b[sizeof b - 1] = '\0';
    assert_true(utf8_same_lower(a, b));
    b[sizeof b - 2] = 'b';
    assert_false(utf8_same_lower(a, b));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_i64_accepts_plain_decimals),
        cmocka_unit_test(test_i64_accepts_int64_max_exactly),
        cmocka_unit_test(test_i64_accepts_int64_min_exactly),
        cmocka_unit_test(test_i64_rejects_overflow_above_max),
        cmocka_unit_test(test_i64_rejects_overflow_below_min),
        cmocka_unit_test(test_i64_rejects_negative_zero),
        cmocka_unit_test(test_i64_rejects_leading_zeros),
        cmocka_unit_test(test_i64_rejects_plus_sign),
        cmocka_unit_test(test_i64_rejects_leading_space),
        cmocka_unit_test(test_i64_rejects_trailing_garbage),
        cmocka_unit_test(test_i64_rejects_exponent),
        cmocka_unit_test(test_i64_rejects_hexadecimal),
        cmocka_unit_test(test_i64_rejects_fraction),
        cmocka_unit_test(test_i64_rejects_empty_and_lone_sign),
        cmocka_unit_test(test_i64_rejects_embedded_nul_within_length),
        cmocka_unit_test(test_i64_reads_only_len_bytes),
        cmocka_unit_test(test_i64_enforces_min_and_max_inclusive),
        cmocka_unit_test(test_id_accepts_positive_values),
        cmocka_unit_test(test_id_rejects_zero),
        cmocka_unit_test(test_id_rejects_negative),
        cmocka_unit_test(test_id_rejects_non_canonical_spellings),
        cmocka_unit_test(test_bool_accepts_exact_true_and_false),
        cmocka_unit_test(test_bool_rejects_other_spellings),
        cmocka_unit_test(test_bool_rejects_prefix_by_length),
        cmocka_unit_test(test_money_accepts_whole_units),
        cmocka_unit_test(test_money_accepts_one_decimal_as_tenths),
        cmocka_unit_test(test_money_accepts_two_decimals),
        cmocka_unit_test(test_money_accepts_maximum),
        cmocka_unit_test(test_money_rejects_above_maximum),
        cmocka_unit_test(test_money_rejects_three_decimals),
        cmocka_unit_test(test_money_rejects_comma_separator),
        cmocka_unit_test(test_money_rejects_sign),
        cmocka_unit_test(test_money_rejects_nan_and_exponent),
        cmocka_unit_test(test_money_rejects_spaces),
        cmocka_unit_test(test_money_rejects_missing_whole_or_fraction),
        cmocka_unit_test(test_money_rejects_empty),
        cmocka_unit_test(test_money_rejects_two_dots),
        cmocka_unit_test(test_money_rejects_embedded_nul_within_length),
        cmocka_unit_test(test_format_money_writes_two_decimals),
        cmocka_unit_test(test_format_money_writes_maximum),
        cmocka_unit_test(test_format_money_writes_negative_with_sign),
        cmocka_unit_test(test_money_round_trips_small_values),
        cmocka_unit_test(test_money_round_trips_across_the_range),
        cmocka_unit_test(test_lower_maps_ascii),
        cmocka_unit_test(test_lower_maps_beyond_ascii),
        cmocka_unit_test(test_lower_leaves_invalid_bytes_as_they_are),
        cmocka_unit_test(test_lower_reads_only_len_bytes),
        cmocka_unit_test(test_lower_is_bounded_by_cap),
        cmocka_unit_test(test_same_lower_compares_the_lowered_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
