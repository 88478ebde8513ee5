/*
 * wordplan.c -- the plan that answered each word recently (db/wordplan.h):
 * a fixed table of slots, one per hash, each holding one key.
 */
#include "nexus/db/wordplan.h"

#include <pthread.h>
#include <string.h>

#define SLOTS 1024u /* a power of two */

struct slot {
    char key[WORD_PLAN_KEY_MAX + 1];
    enum word_plan plan;
    uint64_t expires_us;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[SLOTS];

static struct slot *slot_of(const char *key) {
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (const char *p = key; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211u;
    }
    return &slots[h & (SLOTS - 1)];
}

enum word_plan word_plan_get(const char *key, uint64_t now_us) {
    if (strlen(key) > WORD_PLAN_KEY_MAX)
        return WORD_PLAN_UNKNOWN;
    enum word_plan plan = WORD_PLAN_UNKNOWN;
    pthread_mutex_lock(&lock);
    struct slot *s = slot_of(key);
    if (s->plan != WORD_PLAN_UNKNOWN && now_us < s->expires_us && strcmp(s->key, key) == 0)
        plan = s->plan;
    pthread_mutex_unlock(&lock);
    return plan;
}

void word_plan_put(const char *key, enum word_plan plan, uint64_t now_us) {
    size_t n = strlen(key);
    if (n > WORD_PLAN_KEY_MAX)
        return;
    pthread_mutex_lock(&lock);
    struct slot *s = slot_of(key); /* another word's entry there is replaced */
    memcpy(s->key, key, n + 1);
    s->plan = plan;
    s->expires_us = now_us + WORD_PLAN_TTL_US;
    pthread_mutex_unlock(&lock);
}

void word_plan_reset(void) {
    pthread_mutex_lock(&lock);
    memset(slots, 0, sizeof slots);
    pthread_mutex_unlock(&lock);
}
