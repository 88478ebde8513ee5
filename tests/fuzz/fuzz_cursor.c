/*
 * fuzz_cursor.c -- signed pagination cursors (core/cursor.h).
 *
 * Input layout: byte 0 picks the mode and a scope.
 *   - decode mode: the rest is a cursor as a client would send it (any
 *     bytes, NULs included: query values carry their length). Only the
 *     seeds, made with this target's key, may decode; whatever decodes
 *     must be in range and must encode back to a cursor that decodes to
 *     the same position.
 *   - round-trip mode: 8 bytes of id, then a sort value (cut at a NUL, at
 *     most NX_CURSOR_VALUE_MAX bytes). Values that are not UTF-8 are
 *     skipped: sort values come from PostgreSQL text columns. A cursor
 *     encoded for a scope decodes to the same position in that scope and
 *     in no other. The API's longest sort values (names: 200 code points)
 *     must always round-trip; longer ones may be refused, never crash.
 */
#include "nexus/core/cursor.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_cursor: check failed: %s (line %d)\n", #cond, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The seeds in corpus/fuzz_cursor were made with this secret. */
static const char SECRET[] = "fuzz-cursor-secret-0123456789abcdef-0123";

static const struct cursor_scope SCOPES[] = {
    {"products", "-price", "category=3"},
    {"products", "name", ""},
    {"users", "email", ""},
};
#define NSCOPES (sizeof SCOPES / sizeof SCOPES[0])

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    cursor_init((const unsigned char *)SECRET, sizeof SECRET - 1);
    return 0;
}

static size_t code_points(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Encode pos in scope s and require it back, and refused elsewhere. */
static void round_trip(size_t s, const struct cursor_position *pos, bool must_fit) {
    char *text = cursor_encode(&SCOPES[s], pos);
    CHECK(text);
    size_t len = strlen(text);
    struct cursor_position back;
    memset(&back, 0x5a, sizeof back);
    bool ok = cursor_decode(text, len, &SCOPES[s], &back);
    if (must_fit)
        CHECK(ok);
    if (len > NX_CURSOR_MAX)
        CHECK(!ok);
    if (ok) {
        CHECK(back.id == pos->id);
        CHECK(strcmp(back.value, pos->value) == 0);
    }
    for (size_t other = 0; other < NSCOPES; other++)
        if (other != s)
            CHECK(!cursor_decode(text, len, &SCOPES[other], &back));
    free(text);
}

static void fuzz_decode(size_t s, const char *text, size_t len) {
    struct cursor_position pos;
    if (!cursor_decode(text, len, &SCOPES[s], &pos))
        return;
    CHECK(pos.id >= 0);
    CHECK(strlen(pos.value) <= NX_CURSOR_VALUE_MAX);
    round_trip(s, &pos, true);
}

static void fuzz_round_trip(size_t s, const uint8_t *data, size_t size) {
    if (size < 8)
        return;
    struct cursor_position pos;
    uint64_t raw;
    memcpy(&raw, data, sizeof raw);
    pos.id = (int64_t)(raw & (uint64_t)INT64_MAX); /* ids are never negative */
    size_t n = strnlen((const char *)data + 8, size - 8);
    if (n > NX_CURSOR_VALUE_MAX)
        n = NX_CURSOR_VALUE_MAX;
    memcpy(pos.value, data + 8, n);
    pos.value[n] = '\0';
    json_t *valid = json_string(pos.value); /* NULL unless valid UTF-8 */
    if (!valid)
        return;
    json_decref(valid);
    round_trip(s, &pos, code_points(pos.value) <= 200);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t s = (size_t)(data[0] >> 1) % NSCOPES;
    if (data[0] & 1)
        fuzz_round_trip(s, data + 1, size - 1);
    else
        fuzz_decode(s, (const char *)data + 1, size - 1);
    return 0;
}
