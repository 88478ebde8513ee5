/*
 * password.c -- argon2id through crypto_pwhash_str, behind a semaphore.
 */
#include "nexus/auth/password.h"

#include "nexus/core/log.h"

#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

/* Wait for a hash slot and count the argon2id run it is taken for. */
static bool acquire_slot(void) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += (long)(SLOT_WAIT_MS % 1000) * 1000000L;
    deadline.tv_sec += SLOT_WAIT_MS / 1000 + deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    while (sem_timedwait(&slots, &deadline) != 0)
        if (errno != EINTR)
            return false;
    atomic_fetch_add_explicit(&runs, 1, memory_order_relaxed);
    return true;
}

enum nx_err password_hash(const char *password, size_t len, char out[NX_PASSWORD_HASH_MAX]) {
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

enum nx_err password_verify(const char *hash, const char *password, size_t len, bool *ok,
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
