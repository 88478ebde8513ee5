/*
 * seed_terms.h -- the facet terms of the demo catalog (migration 0013).
 *
 * nexus seed loads products without triggers, so it numbers the terms
 * itself: each distinct (kind, name, value) gets the next id as the
 * products are generated, the product rows carry their arrays, and the
 * dictionary is copied into facet_terms at the end.
 */
#ifndef NEXUS_DB_SEED_TERMS_H
#define NEXUS_DB_SEED_TERMS_H

#include "nexus/core/xmem.h"

#define SEED_TERM_ATTRIBUTE 1
#define SEED_TERM_OPTION    2

struct seed_term;

struct seed_terms {
    struct seed_term *list; /* by id - 1 */
    size_t count, cap;
    int *slots; /* open addressing: index into list + 1, 0 empty */
    size_t slot_count;
};

/* The id of (kind, name, value), numbered from 1 in order of first use. */
int seed_term_id(struct seed_terms *t, int kind, const char *name, const char *value);

/* A product's terms, collected for its array. */
struct seed_term_set {
    int ids[64];
    int count;
};

/* Add id unless the set holds it already (or is full). */
void seed_term_set_add(struct seed_term_set *s, int id);

/* Append the set as an array literal "{3,17}", ids ascending. */
void seed_term_set_text(struct seed_term_set *s, struct buf *out);

/* The terms as COPY text lines of facet_terms (id, kind, name, value). */
void seed_terms_lines(const struct seed_terms *t, struct buf *out);

void seed_terms_clear(struct seed_terms *t);

#endif
