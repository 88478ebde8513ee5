/*
 * fuzz_parse.c -- the strict number parsers (core/parse.h) on arbitrary
 * bytes.
 *
 * Guarantees checked, besides "no crash, no read past len" (libFuzzer hands
 * over a buffer of exactly len bytes, so ASan sees any overread):
 *   - parse_i64 and parse_id accept one spelling only: what they accept
 *     prints back as the very same text, and lies within the bounds;
 *   - parse_bool accepts exactly "true" and "false";
 *   - parse_money stays within 0..NX_MONEY_MAX_CENTS, and
 *     parse_money -> format_money -> parse_money gives the same cents;
 *   - format_money of any int64 fits NX_MONEY_BUF.
 */
#include "nexus/core/parse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_parse: check failed: %s (line %d)\n", #cond, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A success must be the canonical decimal spelling of the value. */
static void check_canonical(const char *s, size_t len, int64_t v) {
    char text[32];
    int n = snprintf(text, sizeof text, "%" PRId64, v);
    CHECK(n > 0 && (size_t)n == len && memcmp(text, s, len) == 0);
}

static void fuzz_integers(const char *s, size_t len) {
    static const int64_t bounds[][2] = {
        {INT64_MIN, INT64_MAX}, {0, 100}, {-5, 5}, {1, 1000000}, {0, 15}, {1, 65535},
    };
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        int64_t v = 42;
        if (parse_i64(s, len, bounds[i][0], bounds[i][1], &v)) {
            CHECK(v >= bounds[i][0] && v <= bounds[i][1]);
            check_canonical(s, len, v);
        } else {
            CHECK(v == 42); /* untouched on failure */
        }
    }
    int64_t id = 0;
    if (parse_id(s, len, &id)) {
        CHECK(id >= 1);
        check_canonical(s, len, id);
    }
}

static void fuzz_bool(const char *s, size_t len) {
    bool b = false;
    if (parse_bool(s, len, &b))
        CHECK((b && len == 4 && memcmp(s, "true", 4) == 0) ||
              (!b && len == 5 && memcmp(s, "false", 5) == 0));
}

static void fuzz_money(const char *s, size_t len) {
    int64_t cents = -1;
    if (!parse_money(s, len, &cents)) {
        CHECK(cents == -1);
        return;
    }
    CHECK(cents >= 0 && cents <= NX_MONEY_MAX_CENTS);
    char text[NX_MONEY_BUF];
    size_t n = format_money(cents, text, sizeof text);
    CHECK(n > 0 && n < sizeof text && strlen(text) == n);
    int64_t again = -1;
    CHECK(parse_money(text, n, &again));
    CHECK(again == cents);
}

/* format_money must fit any value, negative and extreme ones included. */
static void fuzz_format(const uint8_t *data, size_t size) {
    uint64_t raw = 0;
    memcpy(&raw, data, size < sizeof raw ? size : sizeof raw);
    int64_t cents = (int64_t)raw;
    char text[NX_MONEY_BUF];
    size_t n = format_money(cents, text, sizeof text);
    CHECK(n > 0 && n < sizeof text);
    const char *dot = strchr(text, '.');
    CHECK(dot && strlen(dot) == 3);
    if (cents >= 0 && cents <= NX_MONEY_MAX_CENTS) {
        int64_t again = -1;
        CHECK(parse_money(text, n, &again) && again == cents);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    fuzz_integers(s, size);
    fuzz_bool(s, size);
    fuzz_money(s, size);
    fuzz_format(data, size);
    return 0;
}
