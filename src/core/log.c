/*
 * log.c -- structured logging: JSON lines on stderr, one write each.
 */
#include "nexus/core/log.h"

#include "nexus/core/xmem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level) {
    current_level = level;
}

enum log_level log_get_level(void) {
    return current_level;
}

uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void log_timestamp(char *buf, size_t cap) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

static void begin_line(struct buf *b, enum log_level level, const char *event) {
    char ts[64];
    log_timestamp(ts, sizeof ts);
    buf_printf(b, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts, level_names[level]);
    buf_json_string(b, event, strlen(event));
}

static void emit(struct buf *b) {
    buf_append(b, "}\n", 2);
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(STDERR_FILENO, b->data + off, b->len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    buf_clear(b);
}

static void vlog(enum log_level level, const char *event, const char *request_id,
                 const struct log_field *fields, size_t n_fields, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));
static void vlog(enum log_level level, const char *event, const char *request_id,
                 const struct log_field *fields, size_t n_fields, const char *fmt, va_list ap) {
    struct buf b = {0};
    begin_line(&b, level, event);
    if (request_id) {
        buf_puts(&b, ",\"request_id\":");
        buf_json_string(&b, request_id, strlen(request_id));
    }
    for (size_t i = 0; i < n_fields; i++) {
        buf_puts(&b, ",");
        buf_json_string(&b, fields[i].name, strlen(fields[i].name));
        buf_puts(&b, ":");
        buf_json_string(&b, fields[i].value, strlen(fields[i].value));
    }
    char msg[1024];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    if (n > 0) {
        size_t len = (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
        buf_puts(&b, ",\"msg\":");
        buf_json_string(&b, msg, len);
    }
    emit(&b);
}

void nx_log(enum log_level level, const char *event, const char *request_id, const char *fmt, ...) {
    if (level < current_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, event, request_id, NULL, 0, fmt, ap);
    va_end(ap);
}

void nx_log_fields(enum log_level level, const char *event, const char *request_id,
                   const struct log_field *fields, size_t n_fields, const char *fmt, ...) {
    if (level < current_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, event, request_id, fields, n_fields, fmt, ap);
    va_end(ap);
}

void log_access(const struct access_entry *e) {
    if (LOG_INFO < current_level)
        return;
    struct buf b = {0};
    begin_line(&b, LOG_INFO, "request");
    buf_puts(&b, ",\"method\":");
    buf_json_string(&b, e->method, strlen(e->method));
    buf_puts(&b, ",\"path\":");
    buf_json_string(&b, e->path, strlen(e->path));
    if (e->route) {
        buf_puts(&b, ",\"route\":");
        buf_json_string(&b, e->route, strlen(e->route));
    }
    buf_printf(&b, ",\"status\":%u,\"duration_us\":%llu,\"bytes\":%llu,\"request_id\":", e->status,
               (unsigned long long)e->duration_us, (unsigned long long)e->bytes);
    buf_json_string(&b, e->request_id, strlen(e->request_id));
    emit(&b);
}
