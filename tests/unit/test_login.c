/*
 * test_login.c -- the User-Agent text a login keeps (model/login.c).
 */
#include "nexus/model/login.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const char *clean(const char *ua) {
    static char out[NX_USER_AGENT_BYTES];
    memset(out, 'x', sizeof out);
    login_user_agent(ua, out);
    return out;
}

/* Code points of a valid UTF-8 string. */
static size_t chars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void test_user_agent_plain_text_is_kept(void **state) {
    (void)state;
    assert_string_equal(clean("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"),
                        "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0");
    assert_string_equal(clean("curl/7.88.1"), "curl/7.88.1");
    assert_string_equal(clean("Navigateur \xc3\xa9tendu \xe2\x9c\x93"),
                        "Navigateur \xc3\xa9tendu \xe2\x9c\x93");
}

static void test_user_agent_missing_or_empty_is_empty(void **state) {
    (void)state;
    assert_string_equal(clean(NULL), "");
    assert_string_equal(clean(""), "");
    assert_string_equal(clean(" \t "), "");
}

static void test_user_agent_control_characters_are_dropped(void **state) {
    (void)state;
    assert_string_equal(clean("a\x01\x1b[31mb\x7f"), "a[31mb");
    assert_string_equal(clean("line\r\nbreak"), "linebreak");
    assert_string_equal(clean("c1\xc2\x85here"), "c1here"); /* U+0085 NEL */
}

static void test_user_agent_white_space_runs_become_one_space_and_ends_are_trimmed(void **state) {
    (void)state;
    assert_string_equal(clean("  a \t\t b  "), "a b");
}

static void test_user_agent_invalid_utf8_is_dropped(void **state) {
    (void)state;
    assert_string_equal(clean("a\xff"
                              "b\xc3"),
                        "ab");
    assert_string_equal(clean("over\xc0\xaflong"), "overlong");
    assert_string_equal(clean("sur\xed\xa0\x80rogate"), "surrogate");
    assert_string_equal(clean("big\xf4\x90\x80\x80"), "big");
}

static void test_user_agent_is_cut_at_256_characters(void **state) {
    (void)state;
    char ua[4000];
    memset(ua, 'a', sizeof ua - 1);
    ua[sizeof ua - 1] = '\0';
    assert_int_equal(strlen(clean(ua)), NX_USER_AGENT_MAX);
    /* multi-byte characters are counted as characters and never split */
    for (int i = 0; i < 300; i++)
        memcpy(ua + 3 * i, "\xe2\x82\xac", 3);
    ua[900] = '\0';
    const char *out = clean(ua);
    assert_int_equal(chars(out), NX_USER_AGENT_MAX);
    assert_int_equal(strlen(out), 3 * NX_USER_AGENT_MAX);
    /* a cut never leaves a trailing space */
    memset(ua, 'a', 255);
    memcpy(ua + 255, " b", 3);
    assert_int_equal(strlen(clean(ua)), 255);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_agent_plain_text_is_kept),
        cmocka_unit_test(test_user_agent_missing_or_empty_is_empty),
        cmocka_unit_test(test_user_agent_control_characters_are_dropped),
        cmocka_unit_test(test_user_agent_white_space_runs_become_one_space_and_ends_are_trimmed),
        cmocka_unit_test(test_user_agent_invalid_utf8_is_dropped),
        cmocka_unit_test(test_user_agent_is_cut_at_256_characters),
    };
    return cmocka_run_group_tests_name("login", tests, NULL, NULL);
}
