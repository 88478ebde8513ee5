/*
 * log.h -- one JSON object per line on stderr.
 *
 * Each line is written with a single write(2), so lines from different
 * threads never interleave. Library error text is logged here, at the layer
 * that saw it, and never reaches a response.
 */
#ifndef NEXUS_CORE_LOG_H
#define NEXUS_CORE_LOG_H

#include "nexus/core/config.h"

#include <stddef.h>
#include <stdint.h>

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Log an event; request_id may be NULL. msg is a printf format. */
void nx_log(enum log_level level, const char *event, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A member of an event's line beside its message: "target":"replica". */
struct log_field {
    const char *name;
    const char *value;
};

/* nx_log with n_fields members before the message, for what a reader
 * filters lines by (which server, which address). */
void nx_log_fields(enum log_level level, const char *event, const char *request_id,
                   const struct log_field *fields, size_t n_fields, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

struct access_entry {
    const char *method;
    const char *path;
    const char *route; /* template, or NULL when nothing matched */
    unsigned status;
    uint64_t duration_us;
    const char *request_id;
    uint64_t bytes;
};

void log_access(const struct access_entry *e);

/* Current wall-clock time as RFC 3339 UTC with microseconds into buf (>= 64). */
void log_timestamp(char *buf, size_t cap);
/* Monotonic clock in microseconds. */
uint64_t now_us(void);

#define log_error(event, rid, ...) nx_log(LOG_ERROR, event, rid, __VA_ARGS__)
#define log_warn(event, rid, ...)  nx_log(LOG_WARN, event, rid, __VA_ARGS__)
#define log_info(event, rid, ...)  nx_log(LOG_INFO, event, rid, __VA_ARGS__)
#define log_debug(event, rid, ...) nx_log(LOG_DEBUG, event, rid, __VA_ARGS__)

#endif
