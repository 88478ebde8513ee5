/*
 * itemplan.c -- the products whose items need the full statement
 * (db/itemplan.h): a bit per id.
 */
#include "nexus/db/itemplan.h"

#include <stdatomic.h>

#define WORDS (ITEM_PLAN_BITS / 64u)

static _Atomic uint64_t words[WORDS];

static _Atomic uint64_t *word_of(int64_t id, uint64_t *bit) {
    uint64_t n = (uint64_t)id & (ITEM_PLAN_BITS - 1u);
    *bit = UINT64_C(1) << (n % 64u);
    return &words[n / 64u];
}

bool item_plan_full(int64_t id) {
    if (id < 1)
        return false;
    uint64_t bit = 0;
    return (atomic_load_explicit(word_of(id, &bit), memory_order_relaxed) & bit) != 0;
}

void item_plan_set_full(int64_t id, bool full) {
    if (id < 1)
        return;
    uint64_t bit = 0;
    _Atomic uint64_t *w = word_of(id, &bit);
    if (full)
        atomic_fetch_or_explicit(w, bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(w, ~bit, memory_order_relaxed);
}

void item_plan_reset(void) {
    for (uint64_t i = 0; i < WORDS; i++)
        atomic_store_explicit(&words[i], 0, memory_order_relaxed);
}
