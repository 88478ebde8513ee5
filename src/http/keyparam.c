/*
 * keyparam.c -- see keyparam.h.
 */
#include "nexus/http/keyparam.h"

#include <string.h>

bool key_params_include(const struct key_param *params, size_t count, const char *name) {
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(params[i].name);
        if (params[i].form == KEY_PREFIX ? strncmp(params[i].name, name, n) == 0
                                         : strcmp(params[i].name, name) == 0)
            return true;
    }
    return false;
}
