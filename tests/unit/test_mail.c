/*
 * test_mail.c -- the message the worker sends: a long list of recipients
 * is folded between addresses, and no line passes what RFC 5322 allows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/jobs/mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t longest_line(const char *msg) {
    size_t longest = 0;
    for (const char *p = msg; *p;) {
        size_t n = strcspn(p, "\r\n");
        if (n > longest)
            longest = n;
        p += n;
        p += strspn(p, "\r\n");
    }
    return longest;
}

/* The To header, unfolded (CRLF followed by white space removed). */
static void unfolded_to(const char *msg, char *out, size_t cap) {
    const char *p = strstr(msg, "\r\nTo: ");
    assert_non_null(p);
    p += 2;
    size_t n = 0;
    while (*p && n + 1 < cap) {
        if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t')) {
            p += 2;
            continue;
        }
        if (p[0] == '\r')
            break;
        out[n++] = *p++;
    }
    out[n] = '\0';
}

static void test_many_recipients_are_folded_between_addresses(void **state) {
    (void)state;
    static char addresses[60][64];
    struct mail m = {.subject = "Low stock: LAMP-1",
                     .body = "Stock is low.\n",
                     .message_id = "nexus-job-1@example.com"};
    for (int i = 0; i < 60; i++) {
        snprintf(addresses[i], sizeof addresses[i], "staff-member-number-%02d@example.com", i);
        m.to[m.to_count++] = addresses[i];
    }
    struct config cfg = {.mail_from = "nexus@example.com"};
    size_t len;
    char *msg = mail_render(&cfg, &m, &len);
    assert_true(longest_line(msg) <= 78);
    char to[8192], want[8192] = "To: ";
    unfolded_to(msg, to, sizeof to);
    for (int i = 0; i < 60; i++) {
        strcat(want, i ? ", " : "");
        strcat(want, addresses[i]);
    }
    assert_string_equal(to, want);
    free(msg);
}

static void test_one_recipient_is_one_line(void **state) {
    (void)state;
    struct mail m = {.to = {"wanda@example.com"},
                     .to_count = 1,
                     .subject = "Welcome",
                     .body = "Hello\n",
                     .message_id = "nexus-job-2@example.com"};
    struct config cfg = {.mail_from = "nexus@example.com"};
    size_t len;
    char *msg = mail_render(&cfg, &m, &len);
    assert_non_null(strstr(msg, "\r\nTo: wanda@example.com\r\nSubject: "));
    free(msg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_recipients_are_folded_between_addresses),
        cmocka_unit_test(test_one_recipient_is_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
