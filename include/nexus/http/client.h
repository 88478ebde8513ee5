/*
 * client.h -- the address of the client behind a request.
 *
 * The peer is the client unless it is a trusted proxy (TRUSTED_PROXIES):
 * then X-Forwarded-For, all of its values read as one list in the order
 * they arrived, is walked from its right end, the hop each proxy appended,
 * past every trusted proxy. The first untrusted hop is the client. A hop
 * that is not an IP address ends the walk: the client is then the last
 * trusted address seen, since whatever lies left of a hop we cannot read
 * may be forged.
 */
#ifndef NEXUS_HTTP_CLIENT_H
#define NEXUS_HTTP_CLIENT_H

#include "nexus/core/netaddr.h"
#include "nexus/http/request.h"

/* The walk above, pure: forwarded holds count header values. */
struct ip_addr client_address_derive(const struct ip_addr *peer, const char *const *forwarded,
                                     size_t count, const struct ip_range *trusted,
                                     size_t trusted_count);

/* The client's address as text into out[NX_IP_TEXT_MAX] ("unknown" when
 * the request has no peer address). */
void request_client_address(const struct request *req, char out[NX_IP_TEXT_MAX]);
/* The same address, parsed; false when the peer's address is unknown. */
bool request_client_ip(const struct request *req, struct ip_addr *out);

/* The key the per-client limits count the client under (ip_limit_key:
 * an IPv6 client's /64), "unknown" as above. */
void request_client_limit_key(const struct request *req, char out[NX_IP_TEXT_MAX]);

#endif
