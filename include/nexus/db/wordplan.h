/*
 * wordplan.h -- which plan answered a search last, per word or words.
 *
 * A search tries a short walk of the sort index, then a long one, then
 * the word indexes (see db/products.c). For a word (or words) whose answer is
 * known to come from the indexes, the walks are wasted; for one answered
 * by a walk, the long walk costs no more than the short one (a walk stops
 * as soon as the page is full). So the plan that answered each word
 * recently is kept in a small table of this process, and the next search
 * of that word starts there. Which walk answered also says how common the
 * word is: the long walk reads a common word's few rows per match from
 * the table, and a rarer word's many from an index of the search text.
 * Entries expire (a word's share of the catalog moves as products
 * change), and the table is bounded: a word that does not fit is simply
 * not remembered. Only the start of the search changes, never its
 * answer: every plan returns the same rows.
 */
#ifndef NEXUS_DB_WORDPLAN_H
#define NEXUS_DB_WORDPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum word_plan {
    WORD_PLAN_UNKNOWN,    /* not remembered: try the short walk first */
    WORD_PLAN_SHORT_WALK, /* the short walk of the sort index filled the page */
    WORD_PLAN_WALK,       /* only the long walk did */
    WORD_PLAN_INDEX,      /* the walks did not: the word indexes answered */
};

/* How long an entry is used (microseconds). */
#define WORD_PLAN_TTL_US (60u * 1000000u)
/* Longer keys are not remembered. */
#define WORD_PLAN_KEY_MAX 96

/* The plan that answered key (the words' patterns and the list's shape,
 * see products.c) at now_us, or WORD_PLAN_UNKNOWN. */
enum word_plan word_plan_get(const char *key, uint64_t now_us);
void word_plan_put(const char *key, enum word_plan plan, uint64_t now_us);
/* Forget everything (tests). */
void word_plan_reset(void);

#endif
