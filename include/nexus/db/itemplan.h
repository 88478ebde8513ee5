/*
 * itemplan.h -- which products' items the flat statement does not answer.
 *
 * A product with one live variant carries that variant on its own row
 * (its solo columns), so its item is one row of products, read without
 * the variants table. The statement that also reads the variants costs
 * PostgreSQL about a fifth more even when it does not run that branch:
 * every plan node carrying the product's wide row is set up per execution.
 * So an item is first asked of the flat statement, and only when that
 * finds nothing (several variants, none the caller may see, no such
 * product) of the full one. This table remembers, per product id, that
 * the flat statement did not answer last time, so that a product with
 * several variants is read in one statement, not two. It only chooses
 * which statement runs first: whichever runs, one statement gives the
 * whole item, one snapshot.
 *
 * One bit per id, ids past the table's size sharing bits with smaller ones
 * (a shared bit costs the products sharing it the longer statement, never
 * a wrong answer). Lock-free: bits are set and cleared atomically.
 */
#ifndef NEXUS_DB_ITEMPLAN_H
#define NEXUS_DB_ITEMPLAN_H

#include <stdbool.h>
#include <stdint.h>

/* Ids below this have a bit of their own (2 MiB of bits). */
#define ITEM_PLAN_BITS (1u << 24)

/* Whether product id is read with the full statement directly. Ids below 1
 * never are. */
bool item_plan_full(int64_t id);
/* Remember (full) or forget that the flat statement does not answer id. */
void item_plan_set_full(int64_t id, bool full);
void item_plan_reset(void);

#endif
