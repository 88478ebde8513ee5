/*
 * catalog.c -- slugs, ISO 4217 codes, entity tags, and SKU, price and stock
 * values (shared by products and variants).
 */
#include "nexus/model/catalog.h"

#include "nexus/core/parse.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool slug_is_valid(const char *s) {
    size_t n = strlen(s);
    bool digits_only = true;
    if (n == 0 || n > NX_SLUG_MAX || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '-') {
            if (s[i + 1] == '-')
                return false;
            digits_only = false;
        } else if (c >= 'a' && c <= 'z') {
            digits_only = false;
        } else if (!(c >= '0' && c <= '9')) {
            return false;
        }
    }
    return !digits_only;
}

/* Cut s (a slug) to at most max characters, at a hyphen rather than
 * inside a word when it can. */
static void cut_at_hyphen(char *s, size_t max) {
    if (strlen(s) <= max)
        return;
    size_t cut = max;
    if (s[max] != '-') {
        size_t h = max;
        while (h > 0 && s[h - 1] != '-')
            h--;
        if (h > 0)
            cut = h - 1;
    }
    s[cut] = '\0';
    while (cut > 0 && s[cut - 1] == '-')
        s[--cut] = '\0';
}

bool slug_from_name(const char *name, char *out, size_t max) {
    size_t n = 0;
    bool pending_hyphen = false;
    for (const unsigned char *p = (const unsigned char *)name; *p && n < 4 * max; p++) {
        if (isalnum(*p) && *p < 0x80) {
            if (pending_hyphen && n > 0)
                out[n++] = '-';
            pending_hyphen = false;
            if (n > max)
                break; /* out holds max + 2 bytes: a hyphen at max marks the word end */
            out[n++] = (char)tolower(*p);
        } else {
            pending_hyphen = true;
        }
        if (n >= max + 1)
            break;
    }
    out[n] = '\0';
    cut_at_hyphen(out, max);
    return slug_is_valid(out);
}

void slug_with_suffix(const char *base, long n, char *out) {
    char suffix[24];
    int w = snprintf(suffix, sizeof suffix, "-%ld", n);
    size_t room = NX_SLUG_MAX - (size_t)w;
    size_t len = strlen(base);
    /* keep one character past the room so the cut can see word ends */
    if (len > room + 1)
        len = room + 1;
    memcpy(out, base, len);
    out[len] = '\0';
    cut_at_hyphen(out, room);
    memcpy(out + strlen(out), suffix, (size_t)w + 1);
}

/* Assigned ISO 4217 codes, sorted for bsearch. */
static const char *const CURRENCIES[] = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE",
    "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL",
    "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
    "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK",
    "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO",
    "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON",
    "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD",
    "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD",
    "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV",
    "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD",
    "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
};

static int compare_code(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool currency_normalize(const char *in, char out[4]) {
    if (strlen(in) != 3)
        return false;
    for (int i = 0; i < 3; i++) {
        if (!isalpha((unsigned char)in[i]) || (unsigned char)in[i] >= 0x80)
            return false;
        out[i] = (char)toupper((unsigned char)in[i]);
    }
    out[3] = '\0';
    const char *key = out;
    return bsearch(&key, CURRENCIES, sizeof CURRENCIES / sizeof CURRENCIES[0], sizeof CURRENCIES[0],
                   compare_code) != NULL;
}

void etag_of(const char *body, size_t len, char out[NX_ETAG_LEN + 1]) {
    unsigned char digest[16];
    crypto_generichash(digest, sizeof digest, (const unsigned char *)body, len, NULL, 0);
    out[0] = '"';
    sodium_bin2hex(out + 1, 33, digest, sizeof digest);
    out[33] = '"';
    out[34] = '\0';
}

bool sku_is_valid(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

enum nx_err price_parse(struct field_errors *errs, json_t *v, const char *field, char out[24]) {
    int64_t cents;
    if (!parse_money(json_string_value(v), json_string_length(v), &cents))
        return fielderr_add(errs, field,
                            "must be a decimal from 0 to 99999999.99 with at most two decimals");
    snprintf(out, 24, "%lld", (long long)cents);
    return NX_OK;
}

enum nx_err stock_parse(struct field_errors *errs, json_t *v, const char *field, char out[24]) {
    json_int_t n = json_integer_value(v);
    snprintf(out, 24, "%lld", (long long)n);
    if (n < 0 || n > INT32_MAX)
        return fielderr_add(errs, field, "must be an integer from 0 to 2147483647");
    return NX_OK;
}
