/*
 * password.c -- argon2id through crypto_pwhash_str, behind a semaphore.
 */
#include "nexus/auth/password.h"

#include "nexus/core/condwait.h"
#include "nexus/core/log.h"
#include "nexus/core/xmem.h"

#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPSLIMIT     crypto_pwhash_OPSLIMIT_INTERACTIVE
#define MEMLIMIT     crypto_pwhash_MEMLIMIT_INTERACTIVE
#define SLOT_WAIT_MS 2000

static sem_t slots;
static bool ready;
static char dummy_hash[NX_PASSWORD_HASH_MAX];
static _Atomic uint64_t runs;

bool password_init(int concurrency) {
    if (ready)
        return true;
    if (sem_init(&slots, 0, (unsigned)concurrency) != 0)
        return false;
    /* The hash unknown users are checked against: any argon2id hash with
     * the costs of the real ones takes as long to verify, and it never
     * matches (see password_verify). Made once, here in the source, so that
     * a process start (each `serve`, each `user create`) does not pay for
     * one more argon2id run; made again only if the costs were to change. */
    static const char dummy[] = "nexus-dummy-password-for-timing";
    static const char made[] = "$argon2id$v=19$m=65536,t=2,p=1$6RODQh4SbPWza1BQc/DJhg$"
                               "7PMkjOcbP8GrryMiSTwyWP2h6hkdwyg46iNgBfQupa4";
    snprintf(dummy_hash, sizeof dummy_hash, "%s", made);
    if (crypto_pwhash_str_needs_rehash(dummy_hash, OPSLIMIT, MEMLIMIT) != 0 &&
        crypto_pwhash_str(dummy_hash, dummy, sizeof dummy - 1, OPSLIMIT, MEMLIMIT) != 0) {
        sem_destroy(&slots);
        return false;
    }
    ready = true;
    return true;
}

void password_shutdown(void) {
    if (ready)
        sem_destroy(&slots);
    ready = false;
}

uint64_t password_runs(void) {
    return atomic_load_explicit(&runs, memory_order_relaxed);
}

/* Wait for a hash slot (SLOT_WAIT_MS at most) and count the argon2id run it is taken for. */
static bool acquire_slot(void) {
    if (!sem_take_within(&slots, SLOT_WAIT_MS * 1000u))
        return false;
    atomic_fetch_add_explicit(&runs, 1, memory_order_relaxed);
    return true;
}

/* The argon2id work itself, on whatever thread calls it. */
static enum nx_err hash_now(const char *password, size_t len, char out[NX_PASSWORD_HASH_MAX]) {
    NX_ASSERT(ready);
    if (!acquire_slot())
        return NX_ERR_UNAVAILABLE;
    int rc = crypto_pwhash_str(out, password, len, OPSLIMIT, MEMLIMIT);
    sem_post(&slots);
    if (rc != 0) { /* out of memory: shed load, do not crash */
        log_warn("password.hash", NULL, "crypto_pwhash_str failed (out of memory?)");
        return NX_ERR_UNAVAILABLE;
    }
    return NX_OK;
}

static enum nx_err verify_now(const char *hash, const char *password, size_t len, bool *ok,
                              bool *needs_rehash) {
    NX_ASSERT(ready);
    *ok = false;
    *needs_rehash = false;
    if (!acquire_slot())
        return NX_ERR_UNAVAILABLE;
    bool real = hash != NULL;
    int rc = crypto_pwhash_str_verify(real ? hash : dummy_hash, password, len);
    sem_post(&slots);
    *ok = real && rc == 0;
    if (*ok)
        *needs_rehash = crypto_pwhash_str_needs_rehash(hash, OPSLIMIT, MEMLIMIT) != 0;
    return NX_OK;
}

/* ---- deferral (see password.h) ---------------------------------------- */

enum job_kind { JOB_HASH, JOB_VERIFY };

struct password_job {
    struct password_job *next; /* in a memo */
    enum job_kind kind;
    bool dummy;                        /* a verification against the dummy hash */
    bool refused;                      /* not computed: the server is stopping */
    char stored[NX_PASSWORD_HASH_MAX]; /* a verification's hash */
    char made[NX_PASSWORD_HASH_MAX];   /* a hash's result */
    bool ok, stale;                    /* a verification's result */
    enum nx_err result;
    size_t len;
    char password[]; /* len bytes, wiped when freed */
};

static _Thread_local bool deferring;
static _Thread_local struct password_memo *memo_now;
static _Thread_local struct password_job *pending;

void password_defer_begin(struct password_memo *memo) {
    deferring = true;
    memo_now = memo;
    pending = NULL;
}

struct password_job *password_defer_end(void) {
    struct password_job *job = pending;
    deferring = false;
    memo_now = NULL;
    pending = NULL;
    return job;
}

bool password_deferred(void) {
    return pending != NULL;
}

static bool job_matches(const struct password_job *j, enum job_kind kind, const char *hash,
                        const char *password, size_t len) {
    if (j->kind != kind || j->len != len || sodium_memcmp(j->password, password, len) != 0)
        return false;
    if (kind == JOB_HASH)
        return true;
    return hash ? !j->dummy && strcmp(j->stored, hash) == 0 : j->dummy;
}

static struct password_job *new_job(enum job_kind kind, const char *hash, const char *password,
                                    size_t len) {
    struct password_job *j = xcalloc(1, sizeof *j + len + 1);
    j->kind = kind;
    j->dummy = hash == NULL;
    if (hash)
        snprintf(j->stored, sizeof j->stored, "%s", hash);
    memcpy(j->password, password, len);
    j->len = len;
    return j;
}

/* The memo's result, or the job recorded (a 503 to the handler). Only
 * one job is recorded per run: the run ends at its first deferral. */
static const struct password_job *deferred(enum job_kind kind, const char *hash,
                                           const char *password, size_t len) {
    for (const struct password_job *j = memo_now ? memo_now->done : NULL; j; j = j->next)
        if (job_matches(j, kind, hash, password, len))
            return j;
    if (!pending)
        pending = new_job(kind, hash, password, len);
    return NULL;
}

/* A stored hash too long to keep is no argon2id hash: checking it costs
 * nothing, so it is never deferred. */
static bool may_defer(const char *hash) {
    return deferring && (!hash || strlen(hash) < NX_PASSWORD_HASH_MAX);
}

enum nx_err password_hash(const char *password, size_t len, char out[NX_PASSWORD_HASH_MAX]) {
    if (!may_defer(NULL))
        return hash_now(password, len, out);
    const struct password_job *j = deferred(JOB_HASH, NULL, password, len);
    if (!j)
        return NX_ERR_UNAVAILABLE;
    memcpy(out, j->made, NX_PASSWORD_HASH_MAX);
    return j->result;
}

enum nx_err password_hash_here(const char *password, size_t len, char out[NX_PASSWORD_HASH_MAX]) {
    return hash_now(password, len, out);
}

enum nx_err password_verify(const char *hash, const char *password, size_t len, bool *ok,
                            bool *needs_rehash) {
    *ok = false;
    *needs_rehash = false;
    if (!may_defer(hash))
        return verify_now(hash, password, len, ok, needs_rehash);
    const struct password_job *j = deferred(JOB_VERIFY, hash, password, len);
    if (!j)
        return NX_ERR_UNAVAILABLE;
    *ok = j->ok;
    *needs_rehash = j->stale;
    return j->result;
}

void password_job_run(struct password_job *j) {
    if (j->kind == JOB_HASH)
        j->result = hash_now(j->password, j->len, j->made);
    else
        j->result = verify_now(j->dummy ? NULL : j->stored, j->password, j->len, &j->ok, &j->stale);
}

void password_job_refuse(struct password_job *j) {
    j->refused = true;
    j->result = NX_ERR_UNAVAILABLE;
}

bool password_job_refused(const struct password_job *j) {
    return j->refused;
}

void password_memo_add(struct password_memo *memo, struct password_job *j) {
    j->next = memo->done;
    memo->done = j;
}

void password_job_free(struct password_job *j) {
    if (!j)
        return;
    sodium_memzero(j->password, j->len);
    sodium_memzero(j->made, sizeof j->made);
    free(j);
}

void password_memo_clear(struct password_memo *memo) {
    while (memo->done) {
        struct password_job *j = memo->done;
        memo->done = j->next;
        password_job_free(j);
    }
}
