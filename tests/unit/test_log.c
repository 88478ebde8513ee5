/*
 * test_log.c -- every log line is one valid JSON object, whatever bytes the
 * request or the message carried.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the logger writes to stderr while fn runs, NUL-terminated (owned). */
static char *capture_stderr(void (*fn)(const void *), const void *arg) {
    FILE *f = tmpfile();
    assert_non_null(f);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
    fn(arg);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    off_t size = lseek(fileno(f), 0, SEEK_END);
    assert_true(size > 0);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(pread(fileno(f), text, (size_t)size, 0), size);
    fclose(f);
    return text;
}

/* text is exactly one line, and that line is a JSON object; the object. */
static json_t *one_json_line(const char *text) {
    size_t len = strlen(text);
    assert_true(len > 1);
    assert_int_equal(text[len - 1], '\n');
    assert_null(memchr(text, '\n', len - 1));
    json_error_t err;
    json_t *line = json_loadb(text, len - 1, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(line))
        fail_msg("not a JSON object (%s): %s", err.text, text);
    return line;
}

static void log_request(const void *arg) {
    const struct access_entry *e = arg;
    log_access(e);
}

static void test_access_line_with_ill_formed_utf8_is_valid_json(void **state) {
    (void)state;
    struct access_entry e = {.method = "GET\xff",
                             .path = "/\xff/caf\xc3\xa9/\xc0\xaf/\xed\xa0\x80/\xe2\x82",
                             .status = 404,
                             .request_id = "rid-\x80"};
    char *text = capture_stderr(log_request, &e);
    json_t *line = one_json_line(text);
    assert_string_equal(json_string_value(json_object_get(line, "event")), "request");
    assert_string_equal(json_string_value(json_object_get(line, "method")), "GET\xef\xbf\xbd");
    /* Well-formed UTF-8 kept, each stray byte one U+FFFD. */
    assert_string_equal(json_string_value(json_object_get(line, "path")),
                        "/\xef\xbf\xbd/caf\xc3\xa9/\xef\xbf\xbd\xef\xbf\xbd/"
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(line, "request_id")), "rid-\xef\xbf\xbd");
    assert_int_equal(json_integer_value(json_object_get(line, "status")), 404);
    json_decref(line);
    free(text);
}

static void log_message(const void *arg) {
    log_warn("test.event", "rid-1", "value %s", (const char *)arg);
}

static void test_event_message_with_ill_formed_utf8_is_valid_json(void **state) {
    (void)state;
    char *text = capture_stderr(log_message, "\"\xfe\xff\x01\"");
    json_t *line = one_json_line(text);
    assert_string_equal(json_string_value(json_object_get(line, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(line, "msg")),
                        "value \"\xef\xbf\xbd\xef\xbf\xbd\x01\"");
    json_decref(line);
    free(text);
}

/* A message cut at the 1023-byte limit may end inside a UTF-8 sequence. */
static void test_message_cut_inside_a_utf8_sequence_is_valid_json(void **state) {
    (void)state;
    char long_text[1100];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    for (size_t i = 1000; i + 1 < sizeof long_text - 1; i += 2) {
        long_text[i] = '\xc3';
        long_text[i + 1] = '\xa9';
    }
    for (size_t shift = 0; shift < 2; shift++) {
        char *text = capture_stderr(log_message, long_text + shift);
        json_decref(one_json_line(text));
        free(text);
    }
}

int main(void) {
    log_set_level(LOG_DEBUG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_line_with_ill_formed_utf8_is_valid_json),
        cmocka_unit_test(test_event_message_with_ill_formed_utf8_is_valid_json),
        cmocka_unit_test(test_message_cut_inside_a_utf8_sequence_is_valid_json),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
