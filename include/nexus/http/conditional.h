/*
 * conditional.h -- conditional requests (RFC 9110 section 13): whether an
 * If-Match or If-None-Match header value matches an entity tag.
 */
#ifndef NEXUS_HTTP_CONDITIONAL_H
#define NEXUS_HTTP_CONDITIONAL_H

#include <stdbool.h>

/* Whether an If-None-Match / If-Match header value matches etag. "*" (as
 * the whole value) matches anything; weak tags match only for
 * If-None-Match. A value that is neither "*" nor a list of entity tags
 * matches nothing: a malformed If-Match is a 412, never a wildcard. */
bool etag_matches(const char *header, const char *etag, bool weak_ok);

/* What an If-Match / If-None-Match header value is: "*", a list holding at
 * least one strong tag, a list of weak tags only (which never match
 * If-Match), or neither "*" nor a list of entity tags (an empty value
 * too). */
enum etag_list { ETAG_LIST_WILDCARD, ETAG_LIST_STRONG, ETAG_LIST_WEAK_ONLY, ETAG_LIST_MALFORMED };
enum etag_list etag_list_kind(const char *header);

#endif
