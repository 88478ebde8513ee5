/*
 * parse.c -- strict parsers for integers, booleans, ids and money.
 *
 * No strtol/strtod here: they skip white space, accept signs, exponents and
 * hexadecimal, and depend on the locale. These accept one spelling only.
 */
#include "nexus/core/parse.h"

#include <stdio.h>
#include <string.h>

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Accumulate unsigned decimal digits into *out, failing on overflow. */
static bool parse_digits(const char *s, size_t len, uint64_t limit, uint64_t *out) {
    uint64_t v = 0;
    if (len == 0)
        return false;
    if (len > 1 && s[0] == '0')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out) {
    if (!s)
        return false;
    bool neg = len > 0 && s[0] == '-';
    uint64_t mag;
    if (!parse_digits(s + neg, len - neg, (uint64_t)INT64_MAX + neg, &mag))
        return false;
    if (neg && mag == 0)
        return false; /* "-0" is not canonical */
    int64_t v = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool parse_id(const char *s, size_t len, int64_t *out) {
    return parse_i64(s, len, 1, INT64_MAX, out) && s[0] != '-';
}

bool parse_bool(const char *s, size_t len, bool *out) {
    if (len == 4 && memcmp(s, "true", 4) == 0) {
        *out = true;
        return true;
    }
    if (len == 5 && memcmp(s, "false", 5) == 0) {
        *out = false;
        return true;
    }
    return false;
}

bool parse_money(const char *s, size_t len, int64_t *cents) {
    size_t dot = len;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '.') {
            dot = i;
            break;
        }
    /* Whole part: plain digits; leading zeros are harmless in money ("05"). */
    if (dot == 0 || dot > 8)
        return false;
    int64_t whole = 0;
    for (size_t i = 0; i < dot; i++) {
        if (!is_digit(s[i]))
            return false;
        whole = whole * 10 + (s[i] - '0');
    }
    size_t decimals = dot < len ? len - dot - 1 : 0;
    if (dot < len && (decimals < 1 || decimals > 2))
        return false;
    int64_t frac = 0;
    for (size_t i = 0; i < decimals; i++) {
        char c = s[dot + 1 + i];
        if (!is_digit(c))
            return false;
        frac = frac * 10 + (c - '0');
    }
    if (decimals == 1)
        frac *= 10;
    *cents = whole * 100 + frac;
    return true;
}

size_t format_money(int64_t cents, char *buf, size_t cap) {
    /* digit arithmetic, not printf: every price of every answer comes here */
    char digits[32], *p = digits + sizeof digits;
    uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    uint64_t units = mag / 100, hundredths = mag % 100;
    *--p = (char)('0' + hundredths % 10);
    *--p = (char)('0' + hundredths / 10);
    *--p = '.';
    do {
        *--p = (char)('0' + units % 10);
        units /= 10;
    } while (units);
    if (cents < 0)
        *--p = '-';
    size_t n = (size_t)(digits + sizeof digits - p);
    if (cap) { /* as snprintf: cut to the room, always terminated */
        size_t kept = n < cap ? n : cap - 1;
        memcpy(buf, p, kept);
        buf[kept] = '\0';
    }
    return n;
}
