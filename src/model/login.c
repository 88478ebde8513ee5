/*
 * login.c -- login rows to JSON; the User-Agent text a login keeps.
 */
#include "nexus/model/login.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (at most left bytes), 0 if
 * there is none: overlong forms, surrogates and code points past U+10FFFF
 * are invalid. *cp gets the code point. */
static size_t utf8_sequence(const unsigned char *p, size_t left, unsigned *cp) {
    unsigned c = p[0];
    size_t n = c < 0x80             ? 1
               : (c & 0xE0) == 0xC0 ? 2
               : (c & 0xF0) == 0xE0 ? 3
               : (c & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (n == 0 || n > left)
        return 0;
    unsigned v = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    static const unsigned MIN[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < MIN[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

static bool is_control(unsigned cp) {
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

void login_user_agent(const char *ua, char out[NX_USER_AGENT_BYTES]) {
    size_t len = ua ? strlen(ua) : 0, o = 0, chars = 0;
    bool space = false;
    for (size_t i = 0; i < len && chars < NX_USER_AGENT_MAX;) {
        unsigned cp = 0;
        size_t n = utf8_sequence((const unsigned char *)ua + i, len - i, &cp);
        if (n == 0) { /* a stray byte: skip it */
            i++;
            continue;
        }
        if (cp == ' ' || cp == '\t') {
            space = o > 0;
        } else if (!is_control(cp)) {
            if (space && chars + 1 >= NX_USER_AGENT_MAX)
                break; /* no room for the space and what follows it */
            if (space) {
                out[o++] = ' ';
                chars++;
            }
            space = false;
            memcpy(out + o, ua + i, n);
            o += n;
            chars++;
        }
        i += n;
    }
    out[o] = '\0';
}

json_t *login_to_json(const PGresult *r, int row) {
    json_t *l = json_object();
    json_object_set_new(l, "id", json_integer(strtoll(PQgetvalue(r, row, LC_NUMBER), NULL, 10)));
    json_object_set_new(l, "created_at", json_string(PQgetvalue(r, row, LC_CREATED_AT)));
    json_object_set_new(l, "last_used_at", json_string(PQgetvalue(r, row, LC_LAST_USED_AT)));
    json_object_set_new(l, "user_agent", json_string(PQgetvalue(r, row, LC_USER_AGENT)));
    json_object_set_new(l, "current", json_boolean(PQgetvalue(r, row, LC_CURRENT)[0] == 't'));
    return l;
}
