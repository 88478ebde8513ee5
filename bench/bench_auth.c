/*
 * bench_auth.c -- raw rates of the two costs behind authentication:
 * argon2id verification (what bounds login throughput) and access token
 * verification (paid on every authenticated request).
 *
 * usage: bench_auth [threads] [seconds]
 */
#include "nexus/auth/token.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char SECRET[] = "benchmark-secret-0123456789abcdef0123";
static const struct token_keys KEYS = {(const unsigned char *)SECRET, sizeof SECRET - 1, "nexus"};
static char hash[crypto_pwhash_STRBYTES];
static char *token;
static double seconds = 5;
static _Atomic long verified;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *pwhash_worker(void *arg) {
    (void)arg;
    double end = now() + seconds;
    while (now() < end)
        if (crypto_pwhash_str_verify(hash, "correct horse", 13) == 0)
            atomic_fetch_add(&verified, 1);
    return NULL;
}

static double run_threads(int threads, void *(*fn)(void *)) {
    pthread_t t[64];
    atomic_store(&verified, 0);
    double start = now();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, fn, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return (double)atomic_load(&verified) / (now() - start);
}

static void *token_worker(void *arg) {
    (void)arg;
    struct access_claims c;
    size_t len = strlen(token);
    double end = now() + seconds;
    while (now() < end)
        for (int i = 0; i < 1000; i++)
            if (token_verify_access(&KEYS, token, len, time(NULL), &c) == NX_OK)
                atomic_fetch_add(&verified, 1);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 2;
    if (argc > 2)
        seconds = strtod(argv[2], NULL);
    if (sodium_init() < 0 || threads < 1 || threads > 64)
        return 1;
    if (crypto_pwhash_str(hash, "correct horse", 13, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return 1;
    if (token_issue_access(&KEYS, 42, "customer", "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                           time(NULL), 900, &token) != NX_OK)
        return 1;
    double pw = run_threads(threads, pwhash_worker);
    double tk = run_threads(threads, token_worker);
    printf("crypto_pwhash_str_verify (argon2id, interactive): %.1f/s with %d threads\n", pw,
           threads);
    printf("token_verify_access (HS256 + claim checks): %.0f/s with %d threads (%.2f us each)\n",
           tk, threads, 1e6 * threads / tk);
    free(token);
    return 0;
}
