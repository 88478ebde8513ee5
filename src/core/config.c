/*
 * config.c -- environment variables to a validated struct config.
 *
 * Every variable has a default that suits development, except where a
 * default would be unsafe in production (JWT_SECRET outside dev mode, which
 * must also be a key nobody else knows).
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "nexus/core/config.h"

#include "nexus/core/parse.h"
#include "nexus/core/xmem.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const struct config *nx_config;

struct loader {
    config_getter get;
    void *ud;
    char *err;
    size_t errcap;
};

static const char *value(struct loader *l, const char *name) {
    const char *v = l->get(name, l->ud);
    return v && *v ? v : NULL;
}

static bool fail(struct loader *l, const char *name, const char *why) {
    snprintf(l->err, l->errcap, "%s: %s", name, why);
    return false;
}

static bool load_int(struct loader *l, const char *name, int def, int min, int max, int *out) {
    const char *v = value(l, name);
    int64_t n = def;
    if (v && !parse_i64(v, strlen(v), min, max, &n)) {
        char why[96];
        snprintf(why, sizeof why, "must be an integer from %d to %d", min, max);
        return fail(l, name, why);
    }
    *out = (int)n;
    return true;
}

static bool load_bool(struct loader *l, const char *name, bool def, bool *out) {
    const char *v = value(l, name);
    *out = def;
    if (!v)
        return true;
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0) {
        *out = false;
        return true;
    }
    return fail(l, name, "must be 1, 0, true or false");
}

static char *dup_or_null(struct loader *l, const char *name) {
    const char *v = value(l, name);
    return v ? xstrdup(v) : NULL;
}

static bool valid_conninfo(const char *s) {
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(s, &msg);
    PQfreemem(msg);
    if (!opts)
        return false;
    PQconninfoFree(opts);
    return true;
}

static bool load_database(struct loader *l, struct config *c) {
    const char *v = value(l, "DATABASE_URL");
    if (!v)
        return fail(l, "DATABASE_URL", "is required");
    if (!valid_conninfo(v))
        return fail(l, "DATABASE_URL", "is not a valid PostgreSQL connection string");
    c->database_url = xstrdup(v);
    v = value(l, "DATABASE_READ_URL");
    if (v && !valid_conninfo(v))
        return fail(l, "DATABASE_READ_URL", "is not a valid PostgreSQL connection string");
    c->database_read_url = v ? xstrdup(v) : NULL;
    return true;
}

static bool load_redis(struct loader *l, struct config *c) {
    const char *v = value(l, "REDIS_URL");
    if (v && strncmp(v, "redis://", 8) != 0 && strncmp(v, "unix://", 7) != 0)
        return fail(l, "REDIS_URL", "must start with redis:// or unix://");
    c->redis_url = v ? xstrdup(v) : NULL;
    v = value(l, "REDIS_PREFIX");
    c->redis_prefix = xstrdup(v ? v : "nexus");
    if (strlen(c->redis_prefix) > 64)
        return fail(l, "REDIS_PREFIX", "must be at most 64 characters");
    return true;
}

/* ---- JWT_SECRET strength ------------------------------------------------
 * Outside development a signing key must be one nobody else knows. A value
 * that was published (the old compose default, the usual placeholders) or
 * that a person typed rather than generated is refused. */

/* Published values, compared ignoring case. */
static const char *const KNOWN_SECRETS[] = {
    "compose-development-secret-change-me-0123456789",
    "secret",
    "changeme",
    "change-me",
    "password",
    "jwt-secret",
    "jwt_secret",
    "supersecret",
    "your-256-bit-secret",
    "your-secret-key",
};
/* Words that mark a value as a placeholder wherever they appear. */
static const char *const PLACEHOLDER_WORDS[] = {
    "changeme", "change-me", "change_me", "replaceme", "replace-me", "replace_me", "placeholder",
};

static bool contains_ignoring_case(const char *s, const char *word) {
    size_t n = strlen(word);
    for (; *s; s++)
        if (strncasecmp(s, word, n) == 0)
            return true;
    return false;
}

static bool is_placeholder(const char *v) {
    for (size_t i = 0; i < sizeof KNOWN_SECRETS / sizeof KNOWN_SECRETS[0]; i++)
        if (strcasecmp(v, KNOWN_SECRETS[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof PLACEHOLDER_WORDS / sizeof PLACEHOLDER_WORDS[0]; i++)
        if (contains_ignoring_case(v, PLACEHOLDER_WORDS[i]))
            return true;
    return false;
}

static size_t distinct_bytes(const char *v) {
    bool seen[256] = {false};
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (!seen[*p]) {
            seen[*p] = true;
            n++;
        }
    return n;
}

/* True when v is a shorter pattern repeated (its last copy may be cut):
 * such a key is no stronger than the pattern. */
static bool repeats_a_pattern(const char *v) {
    size_t len = strlen(v);
    for (size_t period = 1; period <= len / 2; period++) {
        size_t i = period;
        while (i < len && v[i] == v[i - period])
            i++;
        if (i == len)
            return true;
    }
    return false;
}

static bool check_secret_strength(struct loader *l, const char *v) {
    if (is_placeholder(v))
        return fail(l, "JWT_SECRET", "is a published placeholder: generate a random one");
    if (strlen(v) < 32)
        return fail(l, "JWT_SECRET", "must be at least 32 bytes");
    if (distinct_bytes(v) < 8 || repeats_a_pattern(v))
        return fail(l, "JWT_SECRET", "has too little variety: generate a random one");
    return true;
}

static bool load_secret(struct loader *l, struct config *c) {
    const char *v = value(l, "JWT_SECRET");
    if (!v)
        return true; /* only serve needs one: see config_require_secret */
    if (!c->dev_mode && !check_secret_strength(l, v))
        return false;
    c->jwt_secret = xstrdup(v);
    c->jwt_secret_len = strlen(v);
    return true;
}

/* Split the comma-separated text v (NULL: empty) of variable name. */
static bool split_list(struct loader *l, const char *name, const char *v, char **out, size_t max,
                       size_t *count) {
    *count = 0;
    while (v && *v) {
        const char *end = strchr(v, ',');
        size_t n = end ? (size_t)(end - v) : strlen(v);
        while (n && (v[0] == ' ')) {
            v++;
            n--;
        }
        while (n && v[n - 1] == ' ')
            n--;
        if (n) {
            if (*count == max)
                return fail(l, name, "has too many entries");
            if (n > 255)
                return fail(l, name, "has an entry over 255 characters");
            out[(*count)++] = xstrndup(v, n);
        }
        v = end ? end + 1 : NULL;
    }
    return true;
}

/* An origin as a browser sends it: http or https, a lower-case host name
 * or address ([...] for IPv6), an optional port, nothing after. */
static bool is_origin(const char *s) {
    size_t scheme = strncmp(s, "https://", 8) == 0 ? 8 : strncmp(s, "http://", 7) == 0 ? 7 : 0;
    const char *host = s + scheme, *p = host;
    if (!scheme)
        return false;
    if (*p == '[') {
        p += strspn(p + 1, "0123456789abcdef:.") + 1;
        if (*p++ != ']' || p - host < 4)
            return false;
    } else {
        p += strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789.-");
        if (p == host || p - host > 253)
            return false;
    }
    if (*p != ':')
        return *p == '\0';
    size_t digits = strspn(p + 1, "0123456789");
    long port = digits && digits <= 5 && p[1] != '0' ? strtol(p + 1, NULL, 10) : 0;
    return p[1 + digits] == '\0' && port >= 1 && port <= 65535;
}

/* CORS_ORIGINS: each entry compared byte for byte with a request's Origin,
 * so an entry that no browser sends ("*", a trailing slash, upper case) is
 * refused here rather than never matching. */
static bool load_cors_origins(struct loader *l, struct config *c) {
    bool ok = split_list(l, "CORS_ORIGINS", value(l, "CORS_ORIGINS"), c->cors_origins,
                         NX_MAX_CORS_ORIGINS, &c->cors_origin_count);
    for (size_t i = 0; ok && i < c->cors_origin_count; i++) {
        if (!is_origin(c->cors_origins[i])) {
            char why[200];
            snprintf(why, sizeof why,
                     "\"%.64s\" is not an origin: scheme, lower-case host and optional port,"
                     " such as http://localhost:3000 (no path, no \"*\")",
                     c->cors_origins[i]);
            ok = fail(l, "CORS_ORIGINS", why);
        }
    }
    return ok;
}

#define NX_MAX_RANGES 32

/* A list of addresses and CIDR ranges ("10.0.0.0/8,fd00::/8,127.0.0.1");
 * fallback (may be NULL) when the variable is not set. */
static bool load_ranges(struct loader *l, const char *name, const char *fallback,
                        struct ip_range *out, size_t max, size_t *count) {
    char *items[NX_MAX_RANGES];
    size_t n = 0;
    const char *v = value(l, name);
    bool ok = max <= NX_MAX_RANGES && split_list(l, name, v ? v : fallback, items, max, &n);
    for (size_t i = 0; i < n; i++) {
        if (ok && !ip_range_parse(items[i], strlen(items[i]), &out[i])) {
            char why[160];
            snprintf(
                why, sizeof why,
                "\"%.64s\" is not an IP address or a CIDR range such as 10.0.0.0/8 or fd00::/8",
                items[i]);
            ok = fail(l, name, why);
        }
        free(items[i]);
    }
    *count = ok ? n : 0;
    return ok;
}

static bool load_jobs(struct loader *l, struct config *c) {
    const char *from = value(l, "MAIL_FROM");
    const char *dir = value(l, "MAIL_DIR");
    const char *smtp = value(l, "SMTP_URL");
    if (smtp && strncmp(smtp, "smtp://", 7) != 0 && strncmp(smtp, "smtps://", 8) != 0)
        return fail(l, "SMTP_URL", "must start with smtp:// or smtps://");
    if (from && (!strchr(from, '@') || strlen(from) > 254 || strpbrk(from, "\r\n<> ")))
        return fail(l, "MAIL_FROM", "must be a plain address such as nexus@example.com");
    c->smtp_url = smtp ? xstrdup(smtp) : NULL;
    c->mail_from = xstrdup(from ? from : "nexus@localhost");
    c->mail_dir = xstrdup(dir ? dir : "var/mail");
    return load_int(l, "LOW_STOCK_THRESHOLD", 5, 0, 1000000, &c->low_stock_threshold) &&
           load_int(l, "JOB_MAX_ATTEMPTS", 5, 1, 100, &c->job_max_attempts) &&
           load_int(l, "JOB_LEASE_SECONDS", 60, 1, 86400, &c->job_lease_seconds) &&
           load_int(l, "JOB_BACKOFF_BASE_MS", 2000, 1, 3600000, &c->job_backoff_base_ms) &&
           load_int(l, "JOB_BACKOFF_MAX_MS", 600000, 1, 86400000, &c->job_backoff_max_ms) &&
           load_int(l, "JOB_POLL_MS", 1000, 10, 60000, &c->job_poll_ms) &&
           load_int(l, "JOB_RETENTION", 7 * 86400, 60, 3650 * 86400, &c->job_retention) &&
           load_int(l, "IMPORT_RETENTION", 30 * 86400, 3600, 3650 * 86400, &c->import_retention);
}

/* Loopback and the private ranges: where a Prometheus usually scrapes from. */
static const char METRICS_ALLOW_DEFAULT[] =
    "127.0.0.0/8,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

/* Whether s is min..max characters, each printable ASCII (a space too
 * when spaces_ok): what a header or a token's claim can carry as it is. */
static bool printable_ascii(const char *s, size_t min, size_t max, bool spaces_ok) {
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] > 0x7e || (unsigned char)s[n] < (spaces_ok ? 0x20 : 0x21) ||
            n >= max)
            return false;
    return n >= min;
}

static bool load_metrics(struct loader *l, struct config *c) {
    const char *v = value(l, "METRICS_ALLOW");
    if (v && strcmp(v, "none") == 0)
        c->metrics_allow_count = 0;
    else if (!load_ranges(l, "METRICS_ALLOW", METRICS_ALLOW_DEFAULT, c->metrics_allow,
                          NX_MAX_METRICS_ALLOW, &c->metrics_allow_count))
        return false;
    v = value(l, "METRICS_TOKEN");
    /* sent as "Authorization: Bearer <token>" */
    if (v && !printable_ascii(v, 16, 1024, false))
        return fail(l, "METRICS_TOKEN", "must be 16 to 1024 printable ASCII characters, no spaces");
    c->metrics_token = v ? xstrdup(v) : NULL;
    return true;
}

static bool load_log_level(struct loader *l, struct config *c) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    const char *v = value(l, "LOG_LEVEL");
    c->log_level = LOG_INFO;
    if (!v)
        return true;
    for (int i = 0; i < 4; i++)
        if (strcmp(v, names[i]) == 0) {
            c->log_level = (enum log_level)i;
            return true;
        }
    return fail(l, "LOG_LEVEL", "must be debug, info, warn or error");
}

/* The cores this process may run on: its CPU affinity (taskset, a
 * container's cpuset, systemd's CPUAffinity) where it can be read, else
 * every online core. More threads than that would only take turns. */
static int online_cores(void) {
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                         : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static bool load_limits(struct loader *l, struct config *c) {
    int body_kib = 0, local_mib = 0;
    bool ok =
        load_int(l, "PORT", 8080, 1, 65535, &c->port) &&
        load_int(l, "THREADS", online_cores(), 1, 256, &c->threads) &&
        load_int(l, "BODY_MAX_KIB", 1024, 1, 65536, &body_kib) &&
        load_int(l, "CONNECTION_TIMEOUT", 30, 1, 3600, &c->connection_timeout) &&
        load_int(l, "CONNECTION_LIMIT", 4096, 4, 100000, &c->connection_limit) &&
        load_int(l, "PER_IP_CONNECTION_LIMIT", 1024, 1, 100000, &c->per_ip_connection_limit) &&
        load_int(l, "REQUEST_TIMEOUT", 30, 1, 3600, &c->request_timeout) &&
        load_int(l, "DB_STATEMENT_TIMEOUT_MS", 5000, 10, 600000, &c->db_statement_timeout_ms) &&
        load_int(l, "REDIS_TIMEOUT_MS", 150, 1, 10000, &c->redis_timeout_ms) &&
        load_int(l, "CACHE_TTL", 300, 1, 86400, &c->cache_ttl) &&
        load_int(l, "CACHE_LOCAL_MIB", 64, 0, 65536, &local_mib) &&
        load_int(l, "CACHE_LOCAL_WINDOW_US", 1000, 0, 1000000, &c->cache_local_window_us) &&
        load_int(l, "CACHE_MAX_ENTRY_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024,
                 &c->cache_max_entry_bytes) &&
        load_int(l, "REPLICA_MAX_WAIT_MS", 20, 0, 1000, &c->replica_max_wait_ms) &&
        load_int(l, "SHUTDOWN_GRACE", 10, 0, 600, &c->shutdown_grace) &&
        load_int(l, "IMPORT_MAX_BYTES", 256 * 1024 * 1024, 1, INT_MAX, &c->import_max_bytes) &&
        load_int(l, "IMPORT_BULK_MIN_BYTES", 16 * 1024 * 1024, 1, INT_MAX,
                 &c->import_bulk_min_bytes) &&
        load_int(l, "IMPORT_STATEMENT_TIMEOUT_MS", 60000, 10, 3600000,
                 &c->import_statement_timeout_ms);
    c->body_max = (size_t)body_kib * 1024;
    c->cache_local_bytes = (size_t)local_mib * 1024 * 1024;
    return ok;
}

/* BIND_ADDR: the one address to listen on, an IPv4 or IPv6 literal (no
 * host names: resolving one could pick an address nobody meant). Unset:
 * every interface, which is what a container needs. */
static bool load_bind_addr(struct loader *l, struct config *c) {
    const char *v = value(l, "BIND_ADDR");
    unsigned char addr[sizeof(struct in6_addr)];
    if (!v)
        return true;
    if (inet_pton(AF_INET, v, addr) != 1 && inet_pton(AF_INET6, v, addr) != 1)
        return fail(l, "BIND_ADDR", "must be an IPv4 or IPv6 address such as 127.0.0.1 or ::1");
    c->bind_addr = xstrdup(v);
    return true;
}

/* APP_URL: where the frontend lives; account emails link to pages under
 * it, so it must be a plain absolute http(s) URL that needs no escaping in
 * a mail or an HTML attribute. */
static bool load_app_url(struct loader *l, struct config *c) {
    const char *v = value(l, "APP_URL");
    const char *url = v ? v : "http://localhost:3000";
    size_t n = strlen(url);
    size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
    bool plain = true;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || strchr("\"'<>\\`{}|^", *p))
            plain = false;
    if (!scheme || n == scheme || n > 512 || !plain || strpbrk(url, "?#"))
        return fail(l, "APP_URL",
                    "must be an http:// or https:// URL of at most 512 characters without query,"
                    " fragment, spaces or quotes, such as https://shop.example.com");
    c->app_url = xstrndup(url, url[n - 1] == '/' ? n - 1 : n);
    return load_int(l, "PASSWORD_RESET_TTL", 1800, 60, 7 * 86400, &c->password_reset_ttl) &&
           load_int(l, "EMAIL_VERIFY_TTL", 86400, 60, 30 * 86400, &c->email_verify_ttl);
}

static bool load_auth(struct loader *l, struct config *c) {
    const char *iss = value(l, "JWT_ISSUER");
    /* in every access token, so in every Authorization header */
    if (iss && !printable_ascii(iss, 1, 255, true))
        return fail(l, "JWT_ISSUER", "must be 1 to 255 printable ASCII characters");
    c->jwt_issuer = xstrdup(iss ? iss : "nexus");
    return load_secret(l, c) &&
           load_int(l, "ACCESS_TOKEN_TTL", 900, 30, 86400, &c->access_token_ttl) &&
           load_int(l, "REFRESH_TOKEN_TTL", 30 * 86400, 60, 365 * 86400, &c->refresh_token_ttl) &&
           load_int(l, "LOGIN_MAX_FAILURES_PER_EMAIL", 5, 1, 100000,
                    &c->login_max_failures_per_email) &&
           load_int(l, "LOGIN_MAX_FAILURES_PER_CLIENT", 50, 1, 1000000,
                    &c->login_max_failures_per_client) &&
           load_int(l, "LOGIN_FAILURE_WINDOW", 300, 1, 86400, &c->login_failure_window) &&
           load_int(l, "HASH_CONCURRENCY", online_cores(), 1, 64, &c->hash_concurrency) &&
           load_ranges(l, "TRUSTED_PROXIES", NULL, c->trusted_proxies, NX_MAX_TRUSTED_PROXIES,
                       &c->trusted_proxy_count) &&
           load_app_url(l, c);
}

/* Product search: a search's total is counted up to SEARCH_TOTAL_CAP
 * matches, so include_total on a common word reads a bounded number of
 * rows. */
static bool load_search(struct loader *l, struct config *c) {
    return load_int(l, "SEARCH_TOTAL_CAP", 10000, 1, 100000000, &c->search_total_cap);
}

bool config_load(struct config *c, config_getter get, void *ud, char *err, size_t errcap) {
    struct loader l = {get, ud, err, errcap};
    memset(c, 0, sizeof *c);
    const char *env = value(&l, "NEXUS_ENV");
    if (env && strcmp(env, "development") != 0 && strcmp(env, "production") != 0)
        return fail(&l, "NEXUS_ENV", "must be development or production");
    c->dev_mode = env && strcmp(env, "development") == 0;
    c->docs_dir = dup_or_null(&l, "DOCS_DIR");
    bool ok = load_limits(&l, c) && load_bind_addr(&l, c) && load_database(&l, c) &&
              load_redis(&l, c) && load_auth(&l, c) && load_log_level(&l, c) &&
              load_bool(&l, "AUTO_MIGRATE", false, &c->auto_migrate) && load_jobs(&l, c) &&
              load_metrics(&l, c) && load_search(&l, c) && load_cors_origins(&l, c);
    if (!ok)
        config_clear(c);
    return ok;
}

bool config_require_secret(const struct config *c, char *err, size_t errcap) {
    if (c->jwt_secret || c->dev_mode)
        return true;
    snprintf(err, errcap,
             "JWT_SECRET: is required (at least 32 random bytes) unless NEXUS_ENV=development");
    return false;
}

static const char *env_getter(const char *name, void *ud) {
    (void)ud;
    return getenv(name);
}

bool config_load_env(struct config *c, char *err, size_t errcap) {
    return config_load(c, env_getter, NULL, err, errcap);
}

void config_clear(struct config *c) {
    free(c->bind_addr);
    free(c->database_url);
    free(c->database_read_url);
    free(c->redis_url);
    free(c->redis_prefix);
    free(c->jwt_secret);
    free(c->jwt_issuer);
    free(c->docs_dir);
    free(c->smtp_url);
    free(c->mail_from);
    free(c->mail_dir);
    free(c->app_url);
    free(c->metrics_token);
    for (size_t i = 0; i < c->cors_origin_count; i++)
        free(c->cors_origins[i]);
    memset(c, 0, sizeof *c);
}
