/*
 * config.h -- the process configuration, read once from the environment.
 *
 * config_load validates every variable and fills one struct that is never
 * modified afterwards, so threads share it without locks. A bad value is
 * reported with the variable's name and the process stops.
 */
#ifndef NEXUS_CORE_CONFIG_H
#define NEXUS_CORE_CONFIG_H

#include "nexus/core/netaddr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NX_MAX_CORS_ORIGINS    16
#define NX_MAX_TRUSTED_PROXIES 16
#define NX_MAX_METRICS_ALLOW   32

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct config {
    int port;
    char *bind_addr; /* IPv4 or IPv6 literal; NULL: every interface */
    int threads;
    char *database_url;
    char *database_read_url; /* NULL: reads use database_url */
    int replica_max_wait_ms; /* a read waits this long for the replica to catch up */
    char *redis_url;         /* NULL: no cache */
    char *redis_prefix;
    char *jwt_secret;
    size_t jwt_secret_len;
    char *jwt_issuer;
    int access_token_ttl;  /* seconds */
    int refresh_token_ttl; /* seconds */
    char *cors_origins[NX_MAX_CORS_ORIGINS];
    size_t cors_origin_count;
    struct ip_range trusted_proxies[NX_MAX_TRUSTED_PROXIES];
    size_t trusted_proxy_count;
    enum log_level log_level;
    bool auto_migrate;
    bool dev_mode;                   /* NEXUS_ENV=development: relaxed secret rules */
    size_t body_max;                 /* bytes */
    int import_max_bytes;            /* an import upload's cap */
    int import_bulk_min_bytes;       /* an import into an empty catalog this large loads in bulk */
    int import_statement_timeout_ms; /* the import worker's statements (ms) */
    int connection_timeout;          /* seconds */
    int connection_limit;            /* total */
    int per_ip_connection_limit;
    int request_timeout; /* seconds for a request's headers and body to arrive */
    int db_statement_timeout_ms;
    int redis_timeout_ms;
    int cache_ttl;             /* seconds a cached catalog response lives */
    size_t cache_local_bytes;  /* in-process copy of cached responses; 0: off */
    int cache_local_window_us; /* reuse of a generation read from Redis; 0: off */
    int cache_max_entry_bytes; /* larger answers are served, not cached */
    int login_max_failures_per_email;
    int login_max_failures_per_client;
    int login_failure_window; /* seconds */
    int hash_concurrency;     /* concurrent argon2id hashes */
    char *app_url;            /* the frontend, without a trailing slash */
    int password_reset_ttl;   /* seconds a password reset link works */
    int email_verify_ttl;     /* seconds an email verification link works */
    int shutdown_grace;       /* seconds to finish in-flight requests */
    char *docs_dir;           /* Swagger UI and GraphiQL assets; NULL: not served */
    char *smtp_url;           /* NULL: mail is written to mail_dir */
    char *mail_from;
    char *mail_dir;
    int low_stock_threshold; /* stock below this after a write alerts staff */
    int job_max_attempts;
    int job_lease_seconds;
    int job_backoff_base_ms;
    int job_backoff_max_ms;
    int job_poll_ms;      /* longest sleep between queue checks */
    int job_retention;    /* seconds a done job is kept before it is purged */
    int import_retention; /* seconds a finished import is kept, with its errors */
    struct ip_range metrics_allow[NX_MAX_METRICS_ALLOW]; /* who may read /metrics */
    size_t metrics_allow_count;
    char *metrics_token; /* NULL: no bearer opens /metrics */
    /* Product search */
    int search_total_cap; /* a search's include_total counts at most this many */
};

/* Where values come from: getenv in production, a table in tests. */
typedef const char *(*config_getter)(const char *name, void *ud);

/* Fill c from get(); on failure return false and write a message naming the
 * variable into err. c owns its strings: release them with config_clear. */
bool config_load(struct config *c, config_getter get, void *ud, char *err, size_t errcap);
/* config_load from the process environment. */
bool config_load_env(struct config *c, char *err, size_t errcap);
/* serve signs tokens: without a secret it may start only in dev mode, where
 * it makes an ephemeral one. */
bool config_require_secret(const struct config *c, char *err, size_t errcap);
void config_clear(struct config *c);

/* The process-wide configuration, set once at start-up by main. */
extern const struct config *nx_config;

#endif
