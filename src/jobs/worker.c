/*
 * worker.c -- the worker loop: reap, claim, run, record; sleep on LISTEN.
 */
#include "nexus/jobs/worker.h"

#include "nexus/core/condwait.h"
#include "nexus/core/log.h"
#include "nexus/cache/catalog.h"
#include "nexus/db/account_tokens.h"
#include "nexus/db/idempotency.h"
#include "nexus/db/imports.h"
#include "nexus/db/logins.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

/*
 * The heartbeat: while a job runs, a second thread with its own connection
 * renews the job's lease every third of the lease time, so a job that runs
 * longer than its lease is never taken back from a worker that is alive.
 */
struct heartbeat {
    const struct config *cfg;
    const char *worker;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int64_t job_id; /* 0 while idle */
    bool stop;
};

static void renew(struct heartbeat *h, struct db **db, int64_t job_id) {
    bool held = true;
    if (!*db)
        *db = db_open(h->cfg->database_url);
    if (*db && queue_renew(*db, job_id, h->worker, h->cfg->job_lease_seconds, &held) != NX_OK) {
        db_close(*db); /* try a fresh connection next beat */
        *db = NULL;
    }
    if (!held)
        log_warn("worker.lease_lost", NULL, "job %lld: lease lost", (long long)job_id);
}

static void *heartbeat_main(void *arg) {
    struct heartbeat *h = arg;
    struct db *db = NULL;
    long interval_ms = h->cfg->job_lease_seconds * 1000L / 3;
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        cond_wait_for(&h->wake, &h->lock, (uint64_t)interval_ms * 1000u);
        int64_t job = h->job_id;
        if (job && !h->stop) {
            pthread_mutex_unlock(&h->lock);
            renew(h, &db, job);
            pthread_mutex_lock(&h->lock);
        }
    }
    pthread_mutex_unlock(&h->lock);
    db_close(db);
    return NULL;
}

static void heartbeat_set(struct heartbeat *h, int64_t job_id) {
    pthread_mutex_lock(&h->lock);
    h->job_id = job_id;
    pthread_mutex_unlock(&h->lock);
}

/* A byte written here by the signal handler wakes wait_for_work: a signal
 * that lands after the loop checked `stopping` but before poll sleeps
 * would otherwise be noticed only after the whole poll interval. */
static int wake_pipe[2] = {-1, -1};

static void on_signal(int sig) {
    (void)sig;
    int saved = errno;
    stopping = 1;
    if (wake_pipe[1] >= 0)
        (void)!write(wake_pipe[1], "", 1);
    errno = saved;
}

/* SIGTERM, SIGINT and SIGHUP (a closed terminal) set `stopping`, interrupt a sleep (no SA_RESTART)
 * and wake the wait for work, so the loop notices at once. */
static void install_signals(void) {
    if (pipe(wake_pipe) != 0)
        wake_pipe[0] = wake_pipe[1] = -1; /* the stop then waits for the poll interval */
    for (int i = 0; i < 2 && wake_pipe[i] >= 0; i++) { /* a full pipe must not block the handler */
        fcntl(wake_pipe[i], F_SETFL, O_NONBLOCK);
        fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* under nohup, a closed terminal is meant not to stop it (as serve,
     * whose sigwait never sees a signal ignored from the start) */
    struct sigaction hup;
    if (sigaction(SIGHUP, NULL, &hup) == 0 && hup.sa_handler != SIG_IGN)
        sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* LISTEN on db; *listening: the connection that does (see worker_run). */
static enum nx_err listen_on(struct db *db, uint64_t *listening) {
    enum nx_err e = db_exec_sql(db, "LISTEN " NX_JOB_CHANNEL);
    if (e == NX_OK)
        *listening = db_connection_serial(db);
    return e;
}

/* Connect and LISTEN, retrying with backoff until it works or we stop. */
static struct db *connect_listening(const struct config *cfg, uint64_t *listening) {
    int backoff = 100;
    while (!stopping) {
        struct db *db = db_open(cfg->database_url);
        if (db && listen_on(db, listening) == NX_OK)
            return db;
        db_close(db);
        log_warn("worker.connect", NULL, "database unavailable; retrying in %d ms", backoff);
        sleep_ms(backoff);
        backoff = backoff < 2000 ? backoff * 2 : 2000;
    }
    return NULL;
}

/* Sleep until a NOTIFY arrives, the poll interval passes, or a signal. */
static bool wait_for_work(struct db *db, int timeout_ms) {
    PGconn *c = db_conn(db);
    struct pollfd p[2] = {{.fd = PQsocket(c), .events = POLLIN},
                          {.fd = wake_pipe[0], .events = POLLIN}};
    if (p[0].fd < 0)
        return false;
    int n = poll(p, wake_pipe[0] >= 0 ? 2 : 1, stopping ? 0 : timeout_ms);
    if (n < 0 && errno != EINTR)
        return false;
    if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !PQconsumeInput(c))
        return false;
    PGnotify *note;
    while ((note = PQnotifies(c)))
        PQfreemem(note);
    return PQstatus(c) == CONNECTION_OK;
}

static enum nx_err record(const struct config *cfg, struct db *db, const struct job *job,
                          const char *worker, bool ok, const char *err) {
    bool held = true;
    enum nx_err e;
    if (ok) {
        e = queue_complete(db, job, worker, &held);
    } else {
        double delay = queue_backoff(job->attempts, cfg->job_backoff_base_ms / 1000.0,
                                     cfg->job_backoff_max_ms / 1000.0);
        log_warn("worker.job_failed", NULL, "job %lld (%s) attempt %d/%d: %s", (long long)job->id,
                 job->kind, job->attempts, job->max_attempts, err);
        e = queue_fail(db, job, worker, err, delay, &held);
    }
    if (e == NX_OK && !held)
        log_warn("worker.lease_lost", NULL, "job %lld: lease lost; its outcome was not recorded",
                 (long long)job->id);
    return e;
}

struct dead_ctx {
    const struct config *cfg;
    struct db *db;
};

static void settle_dead(void *ctx, const struct job *job) {
    struct dead_ctx *d = ctx;
    log_warn("worker.dead", NULL, "job %lld (%s): its worker stopped during its last attempt",
             (long long)job->id, job->kind);
    job_dead(d->cfg, d->db, job);
}

/* A job's outcome that could not be recorded (the database went away
 * as it ended, as an import stopped by that very outage does): recorded on
 * the next connection, before any other job is claimed, so that the job is
 * retried after its backoff rather than when its lease runs out. */
struct owed_outcome {
    bool pending;
    bool ok;
    struct job job; /* owned while pending */
    char err[512];
};

static enum nx_err record_outcome(const struct config *cfg, struct db *db, const char *worker,
                                  struct owed_outcome *o) {
    enum nx_err e = record(cfg, db, &o->job, worker, o->ok, o->err);
    if (e != NX_OK)
        return e; /* still owed */
    if (o->ok)
        log_info("worker.job_done", NULL, "job %lld (%s) done", (long long)o->job.id, o->job.kind);
    job_clear(&o->job);
    o->pending = false;
    return NX_OK;
}

/* Claim and run one job, its lease renewed by the heartbeat meanwhile;
 * its outcome stays owed when it cannot be recorded. *idle when there was
 * none. */
static enum nx_err run_one(const struct config *cfg, struct db *db, struct heartbeat *h,
                           struct owed_outcome *o, bool *idle) {
    bool found = false;
    o->err[0] = '\0';
    enum nx_err e = queue_claim(db, h->worker, cfg->job_lease_seconds, &o->job, &found);
    *idle = !found;
    if (e != NX_OK || !found)
        return e;
    heartbeat_set(h, o->job.id);
    o->ok = job_handle(cfg, db, &o->job, o->err, sizeof o->err);
    heartbeat_set(h, 0);
    o->pending = true;
    return record_outcome(cfg, db, h->worker, o);
}

/* What the worker keeps for a while and then deletes: done jobs, expired
 * tokens, ended logins, finished imports. Each in small batches (short
 * transactions, no long lock on a table), a few per round. */
#define PURGE_BATCH        500
#define PURGE_ERRORS_BATCH 5000 /* an import's errors are small rows, often many */
#define PURGE_BATCHES      20
#define PURGE_INTERVAL_US  (60u * 1000000u)

typedef enum nx_err (*purge_fn)(struct db *db, int retention_seconds, int batch, int *purged);

/* Run fn in batches until it finds less than a batch or the round ends. */
static enum nx_err purge_rounds(struct db *db, purge_fn fn, int retention_seconds, int batch,
                                const char *what) {
    int purged = batch, total = 0;
    enum nx_err e = NX_OK;
    for (int i = 0; i < PURGE_BATCHES && purged == batch && e == NX_OK && !stopping; i++) {
        e = fn(db, retention_seconds, batch, &purged);
        total += purged;
    }
    if (total)
        log_info("worker.purged", NULL, "%d %s deleted", total, what);
    return e;
}

/* Done jobs, and account tokens that expired as long ago (once gone, such
 * a link is "unknown", which is all an expired link can be told anyway). */
static enum nx_err purge_finished(const struct config *cfg, struct db *db) {
    int keep = cfg->job_retention;
    enum nx_err e = purge_rounds(db, queue_purge, keep, PURGE_BATCH, "finished job(s)");
    if (e == NX_OK)
        e = purge_rounds(db, account_tokens_purge, keep, PURGE_BATCH, "expired account token(s)");
    return e;
}

/* Refresh tokens and logins kept JOB_RETENTION after they ended, and never
 * before the login's last access token expired: an access token is live
 * only while its login's row is (a missing login is an ended one). An
 * expired refresh token is refused with or without its row; a login is
 * ended when revoked, or when its newest refresh token expired, at most
 * REFRESH_TOKEN_TTL after its last use. */
static enum nx_err purge_logins(const struct config *cfg, struct db *db) {
    int keep =
        cfg->job_retention > cfg->access_token_ttl ? cfg->job_retention : cfg->access_token_ttl;
    enum nx_err e = purge_rounds(db, refresh_purge, keep, PURGE_BATCH, "expired refresh token(s)");
    if (e == NX_OK)
        e = purge_rounds(db, logins_purge_revoked, keep, PURGE_BATCH, "revoked login(s)");
    if (e == NX_OK)
        e = purge_rounds(db, logins_purge_idle, keep + cfg->refresh_token_ttl, PURGE_BATCH,
                         "expired login(s)");
    return e;
}

/* Idempotency keys keep their own 24 hours, whatever JOB_RETENTION says. */
static enum nx_err purge_idempotency(struct db *db, int retention_seconds, int batch, int *purged) {
    (void)retention_seconds;
    return idempotency_purge(db, batch, purged);
}

/* Idempotency keys past their 24 hours; uploads whose request never
 * completed; imports finished more than IMPORT_RETENTION ago, their
 * errors first. */
static enum nx_err purge_leftovers(const struct config *cfg, struct db *db) {
    int abandoned = 0, keep = cfg->import_retention;
    enum nx_err e = imports_purge_abandoned(db, &abandoned);
    if (abandoned)
        log_info("worker.purged", NULL, "%d abandoned import upload(s) deleted", abandoned);
    if (e == NX_OK)
        e = purge_rounds(db, purge_idempotency, 0, PURGE_BATCH, "expired idempotency key(s)");
    if (e == NX_OK)
        e = purge_rounds(db, imports_purge_finished_errors, keep, PURGE_ERRORS_BATCH,
                         "finished imports' error(s)");
    if (e == NX_OK)
        e = purge_rounds(db, imports_purge_finished, keep, PURGE_BATCH, "finished import(s)");
    return e;
}

static void worker_name(char *out, size_t cap) {
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(out, cap, "%s:%ld", host, (long)getpid());
}

/* Start the heartbeat with the stop signals blocked in it, so they always
 * interrupt the main loop's sleep. */
static bool heartbeat_start(struct heartbeat *h, pthread_t *thread) {
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    bool ok = pthread_create(thread, NULL, heartbeat_main, h) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

static void heartbeat_stop(struct heartbeat *h, pthread_t thread) {
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    pthread_join(thread, NULL);
}

int worker_run(const struct config *cfg) {
    char name[128];
    uint64_t next_reap = 0, next_purge = 0;
    pthread_t beat;
    worker_name(name, sizeof name);
    install_signals();
    struct heartbeat h = {cfg, name, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false};
    if (!heartbeat_start(&h, &beat))
        return 1;
    /* Imports write the catalog: they bump its cache generation, then wait
     * out the servers' window, as their writes do. */
    struct catalog_cache_limits limits = {cfg->cache_ttl, 0, (uint64_t)cfg->cache_local_window_us,
                                          (size_t)cfg->cache_max_entry_bytes};
    catalog_cache_init(cfg->redis_prefix, &limits);
    catalog_cache_set_position_source(db_wal_position); /* for readers of replicas */
    log_info("worker.start", NULL, "worker %s started", name);
    /* The connection that LISTENs. A statement that found the connection
     * cut outside a transaction ran again on a new one (db.c), which does
     * not: the worker LISTENs again before it sleeps, and claims once more
     * first, since a job enqueued before the LISTEN notified no one. */
    uint64_t listening = 0;
    struct db *db = connect_listening(cfg, &listening);
    struct owed_outcome owed = {0};
    while (db && !stopping) {
        bool idle = true;
        int reaped = 0;
        enum nx_err e = owed.pending ? record_outcome(cfg, db, name, &owed) : NX_OK;
        if (e == NX_OK && now_us() >= next_reap) {
            struct dead_ctx dead = {cfg, db};
            e = queue_reap(db, settle_dead, &dead, &reaped);
            next_reap = now_us() + 1000000u;
            if (reaped)
                log_warn("worker.reaped", NULL, "%d expired lease(s) taken back", reaped);
        }
        if (e == NX_OK && now_us() >= next_purge) {
            e = purge_finished(cfg, db);
            if (e == NX_OK)
                e = purge_logins(cfg, db);
            if (e == NX_OK)
                e = purge_leftovers(cfg, db);
            next_purge = now_us() + PURGE_INTERVAL_US;
        }
        if (e == NX_OK)
            e = run_one(cfg, db, &h, &owed, &idle);
        if (e == NX_OK && idle && db_connection_serial(db) != listening)
            e = listen_on(db, &listening);
        else if (e == NX_OK && idle && !wait_for_work(db, cfg->job_poll_ms))
            e = NX_ERR_UNAVAILABLE;
        if (e != NX_OK && !stopping) { /* the connection is gone: start over */
            db_close(db);
            db = connect_listening(cfg, &listening);
        }
    }
    if (owed.pending) /* stopped before the database came back: its lease will run out */
        job_clear(&owed.job);
    db_close(db);
    heartbeat_stop(&h, beat);
    catalog_cache_free();
    log_info("worker.stop", NULL, "worker %s stopped", name);
    return 0;
}
