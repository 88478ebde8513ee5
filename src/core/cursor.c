/*
 * cursor.c -- HMAC-SHA256 signed pagination cursors.
 */
#include "nexus/core/cursor.h"

#include "nexus/core/err.h"
#include "nexus/core/xmem.h"

#include <jansson.h>
#include <sodium.h>
#include <string.h>

#define MAC_BYTES 16 /* truncated HMAC-SHA256: 128 bits is plenty here */

static unsigned char key[crypto_auth_hmacsha256_KEYBYTES];

void cursor_init(const unsigned char *secret, size_t len) {
    static const char context[] = "nexus cursor key v1";
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof key);
    crypto_generichash_update(&st, (const unsigned char *)context, sizeof context);
    crypto_generichash_update(&st, secret, len);
    crypto_generichash_final(&st, key, sizeof key);
}

void cursor_key_fingerprint(char out[NX_CURSOR_FINGERPRINT_LEN]) {
    static const char context[] = "nexus cursor key fingerprint v1";
    unsigned char d[(NX_CURSOR_FINGERPRINT_LEN - 1) / 2];
    crypto_generichash(d, sizeof d, (const unsigned char *)context, sizeof context, key,
                       sizeof key);
    sodium_bin2hex(out, NX_CURSOR_FINGERPRINT_LEN, d, sizeof d);
}

static void mac_of(const char *data, size_t len, unsigned char out[MAC_BYTES]) {
    unsigned char full[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(full, (const unsigned char *)data, len, key);
    memcpy(out, full, MAC_BYTES);
}

/* Cursors carry a digest of the filters, not the filters: a long search
 * text must not make a cursor too long to come back. */
static void filters_digest(const char *filters, char out[33]) {
    unsigned char d[16];
    crypto_generichash(d, sizeof d, (const unsigned char *)filters, strlen(filters), key,
                       sizeof key);
    sodium_bin2hex(out, 33, d, sizeof d);
}

static char *b64(const unsigned char *data, size_t len) {
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = xmalloc(cap);
    sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

char *cursor_encode(const struct cursor_scope *scope, const struct cursor_position *pos) {
    char digest[33];
    filters_digest(scope->filters, digest);
    json_t *payload = json_pack("[s,s,s,s,I]", scope->endpoint, scope->sort, digest, pos->value,
                                (json_int_t)pos->id);
    NX_ASSERT(payload != NULL);
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    NX_ASSERT(text != NULL);
    char *body = b64((const unsigned char *)text, strlen(text));
    free(text);
    unsigned char mac[MAC_BYTES];
    mac_of(body, strlen(body), mac);
    char *sig = b64(mac, sizeof mac);
    struct buf out = {0};
    buf_printf(&out, "%s.%s", body, sig);
    free(body);
    free(sig);
    return buf_take(&out, NULL);
}

static bool same(json_t *arr, size_t i, const char *want) {
    const char *v = json_string_value(json_array_get(arr, i));
    return v && strcmp(v, want) == 0;
}

static bool unpack(json_t *arr, const struct cursor_scope *scope, struct cursor_position *pos) {
    char digest[33];
    filters_digest(scope->filters, digest);
    if (!json_is_array(arr) || json_array_size(arr) != 5 || !same(arr, 0, scope->endpoint) ||
        !same(arr, 1, scope->sort) || !same(arr, 2, digest))
        return false;
    const char *value = json_string_value(json_array_get(arr, 3));
    json_t *id = json_array_get(arr, 4);
    if (!value || strlen(value) > NX_CURSOR_VALUE_MAX || !json_is_integer(id) ||
        json_integer_value(id) < 0)
        return false;
    memcpy(pos->value, value, strlen(value) + 1);
    pos->id = (int64_t)json_integer_value(id);
    return true;
}

bool cursor_decode(const char *text, size_t len, const struct cursor_scope *scope,
                   struct cursor_position *pos) {
    unsigned char raw[NX_CURSOR_MAX], mac[MAC_BYTES], want[MAC_BYTES];
    size_t raw_len = 0, mac_len = 0;
    const char *dot = len <= NX_CURSOR_MAX ? memchr(text, '.', len) : NULL;
    if (!dot)
        return false;
    size_t body_len = (size_t)(dot - text);
    if (sodium_base642bin(mac, sizeof mac, dot + 1, len - body_len - 1, NULL, &mac_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        mac_len != MAC_BYTES)
        return false;
    mac_of(text, body_len, want);
    if (sodium_memcmp(mac, want, MAC_BYTES) != 0)
        return false;
    if (sodium_base642bin(raw, sizeof raw, text, body_len, NULL, &raw_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return false;
    json_t *arr = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
    bool ok = unpack(arr, scope, pos);
    json_decref(arr);
    return ok;
}
