/*
 * conditional.c -- entity-tag comparison for conditional requests.
 */
#include "nexus/http/conditional.h"

#include <string.h>

bool etag_matches(const char *header, const char *etag, bool weak_ok) {
    const char *p = header;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        bool weak = strncmp(p, "W/", 2) == 0;
        if (weak)
            p += 2;
        if (*p != '"')
            return false;
        const char *close = strchr(p + 1, '"');
        if (!close)
            return false;
        size_t n = (size_t)(close - p + 1);
        if ((!weak || weak_ok) && n == strlen(etag) && memcmp(p, etag, n) == 0)
            return true;
        p = close + 1;
    }
    return false;
}
