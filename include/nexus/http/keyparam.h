/*
 * keyparam.h -- the query parameters a cacheable route's handler reads, as
 * the cache key spells them (http/cachekey.h builds the key from them, and
 * http/request refuses to hand a handler any other parameter). Apart from
 * cachekey so that the request, which cachekey's route types include, can
 * hold them without an include cycle.
 */
#ifndef NEXUS_HTTP_KEYPARAM_H
#define NEXUS_HTTP_KEYPARAM_H

#include <stdbool.h>
#include <stddef.h>

/* How a parameter's value is spelled in the key. Every form but
 * KEY_STRICT treats an empty value like an absent parameter (the handlers
 * ignore empty values); a value that does not parse goes in as sent,
 * marked apart from canonical values, and gets the handler's 400. */
enum key_form {
    KEY_TEXT,     /* as sent */
    KEY_STRICT,   /* as sent, and empty is not absent ("limit=" is a 400) */
    KEY_BOOL,     /* "true" / "false" */
    KEY_MONEY,    /* decimal amount: "10", "10.0" and "10.00" are one */
    KEY_CURRENCY, /* three letters, any case */
    KEY_NAMES,    /* comma-separated names, in any order ("id,name" and "name,id" are
                     one); empty is not absent ("fields=" is a 400) */
    KEY_PREFIX,   /* every parameter whose name starts with this name ("attr."), sorted
                     by name, each with its value as sent */
};

/* KEY_NAMES values with more names go into the key as sent. */
#define NX_KEY_NAMES_MAX 32

struct key_param {
    const char *name;
    enum key_form form;
};

/* Whether one of the count params is called name (or, for a KEY_PREFIX
 * param, whether name starts with it). */
bool key_params_include(const struct key_param *params, size_t count, const char *name);

#endif
