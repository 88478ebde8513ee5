/*
 * replica.h -- which server answers a catalog read that missed the cache.
 *
 * Every catalog write raises a WAL position in Redis, in the same script
 * that bumps the cache generation, to the primary's position after its
 * commit (cache/catalog.h). A read that misses the cache got that position
 * in the same round trip as the generation, after every write answered
 * before it began: a streaming replica that has replayed that far shows
 * every such write. So the read goes to the replica only then, and to the
 * primary otherwise.
 *
 * The check is cheap: each thread remembers the replay position its
 * replica connection last reported and asks again only when that is
 * behind, polling for at most REPLICA_MAX_WAIT_MS. A replica that does not
 * answer, is no longer in recovery (promoted), or is reached on a new
 * connection (restarted, rebuilt) is asked afresh; one that cannot be used
 * is left alone for a backoff. None of this ever fails a read: the primary
 * answers instead, and the fallback is counted by reason.
 */
#ifndef NEXUS_DB_REPLICA_H
#define NEXUS_DB_REPLICA_H

#include "nexus/core/xmem.h"

#include <stdbool.h>
#include <stdint.h>

/* Why a read that could have gone to the replica went to the primary. */
enum replica_fallback {
    REPLICA_NO_POSITION, /* no shared write position (Redis off, down or empty) */
    REPLICA_LAGGING,     /* not caught up within REPLICA_MAX_WAIT_MS */
    REPLICA_UNAVAILABLE, /* cannot connect, or the check failed */
    REPLICA_NOT_STANDBY, /* not in recovery: promoted, so no copy of this primary */
    REPLICA_FAILED,      /* the read itself failed there and was run again */
    REPLICA__FALLBACKS
};

/* What /readyz reports. */
enum replica_state { REPLICA_DISABLED, REPLICA_OK, REPLICA_IS_LAGGING, REPLICA_IS_UNAVAILABLE };

/* Settings from the configuration (DATABASE_READ_URL, REPLICA_MAX_WAIT_MS). */
void replica_init(bool configured, int max_wait_ms);

bool replica_configured(void);

/* Position as written by db_wal_position, to a number; false if malformed. */
bool replica_parse_position(const char *text, uint64_t *out);

/* Route this thread's reads to the replica when it has replayed position
 * (hex, "" unknown), waiting up to the configured time; true when routed
 * (end it with replica_route_end). When false the read goes to the
 * primary, and the fallback is counted. */
bool replica_route(const char *position, const char *request_id);

/* The read is done: routing ends. failed: it failed on the replica and
 * will be run again on the primary (counted as such). */
void replica_route_end(bool failed);

/* Count one read answered by the primary (the replica's are counted by
 * replica_route). */
void replica_count_primary(void);

/* Check the replica now against the primary's current position; when the
 * primary does not answer (primary_answers false, it is not asked), a
 * standby that answers is REPLICA_OK: its lag cannot be measured. */
enum replica_state replica_check(const char *request_id, bool primary_answers);
const char *replica_state_name(enum replica_state s);

/* Prometheus text: reads by target, fallbacks by reason. */
void replica_render_metrics(struct buf *out);

#endif
