/*
 * client.c -- the client address from the peer and X-Forwarded-For.
 */
#include "nexus/http/client.h"

#include "nexus/core/config.h"
#include "nexus/core/xmem.h"

#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_space(char c) {
    return c == ' ' || c == '\t';
}

/* The hop of value that ends at *end (exclusive), trimmed; *end moves to
 * the comma before it, or to SIZE_MAX when it was the first hop. */
static bool previous_hop(const char *value, size_t *end, struct ip_addr *hop) {
    size_t start = *end;
    while (start > 0 && value[start - 1] != ',')
        start--;
    size_t a = start, b = *end;
    *end = start > 0 ? start - 1 : SIZE_MAX;
    while (a < b && is_space(value[a]))
        a++;
    while (b > a && is_space(value[b - 1]))
        b--;
    return ip_parse(value + a, b - a, hop);
}

struct ip_addr client_address_derive(const struct ip_addr *peer, const char *const *forwarded,
                                     size_t count, const struct ip_range *trusted,
                                     size_t trusted_count) {
    struct ip_addr client = *peer;
    for (size_t v = count; v-- > 0;) {
        size_t end = strlen(forwarded[v]);
        while (end != SIZE_MAX) {
            struct ip_addr hop;
            if (!ip_ranges_contain(trusted, trusted_count, &client))
                return client;
            if (!previous_hop(forwarded[v], &end, &hop))
                return client; /* unreadable: stop at the last trusted hop */
            client = hop;
        }
    }
    return client;
}

struct header_values {
    const char **values;
    size_t count, cap;
};

static enum MHD_Result collect_forwarded(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value) {
    (void)kind;
    struct header_values *h = cls;
    if (strcasecmp(key, "X-Forwarded-For") != 0 || !value)
        return MHD_YES;
    if (h->count == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 4;
        h->values = xrealloc(h->values, h->cap * sizeof *h->values);
    }
    h->values[h->count++] = value;
    return MHD_YES;
}

bool request_client_ip(const struct request *req, struct ip_addr *out) {
    const union MHD_ConnectionInfo *info =
        req->conn ? MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    struct ip_addr peer;
    if (!info || !info->client_addr || !ip_from_sockaddr(info->client_addr, &peer))
        return false;
    const struct ip_range *trusted = nx_config->trusted_proxies;
    size_t trusted_count = nx_config->trusted_proxy_count;
    struct header_values h = {NULL, 0, 0};
    /* Only a trusted peer's header is read at all. The values are bounded
     * by the server's limit on header size, not by a hop count. */
    if (ip_ranges_contain(trusted, trusted_count, &peer))
        MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_forwarded, &h);
    *out = client_address_derive(&peer, h.values, h.count, trusted, trusted_count);
    free(h.values);
    return true;
}

/* The client's address written by write, or "unknown". */
static void client_text(const struct request *req, char out[NX_IP_TEXT_MAX],
                        void (*write)(const struct ip_addr *, char[NX_IP_TEXT_MAX])) {
    struct ip_addr client;
    if (request_client_ip(req, &client))
        write(&client, out);
    else
        snprintf(out, NX_IP_TEXT_MAX, "unknown");
}

void request_client_address(const struct request *req, char out[NX_IP_TEXT_MAX]) {
    client_text(req, out, ip_format);
}

void request_client_limit_key(const struct request *req, char out[NX_IP_TEXT_MAX]) {
    client_text(req, out, ip_limit_key);
}
