/*
 * seed_variants.c -- the variants of the demo catalog's products.
 */
#include "nexus/db/seed_variants.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define VALUES 6

/* Option names in the order variants carry them; OUTPUT_ORDER is the
 * order a product lists them in (names sorted). */
static const char *const OPTION_NAMES[3] = {"Size", "Color", "Material"};
static const int OUTPUT_ORDER[3] = {1, 2, 0};
static const char *const OPTION_VALUES[3][VALUES] = {
    {"XS", "S", "M", "L", "XL", "XXL"},
    {"Red", "Blue", "Green", "Black", "White", "Grey"},
    {"Cotton", "Wool", "Linen", "Steel", "Oak", "Bamboo"},
};

/* splitmix64: a product's own stream, from its number alone. */
static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static long long pick(uint64_t *s, uint64_t n) {
    return (long long)(mix(s) % n);
}

void seed_variants_of(long i, long long cents, long long stock, struct seed_variants *out) {
    uint64_t s = (uint64_t)i * 0x2545F4914F6CDD1Dull + 0x5EED;
    memset(out, 0, sizeof *out);
    if (pick(&s, 3) != 0) {
        out->count = 1;
        out->v[0] = (struct seed_variant){cents, stock, true, {0, 0, 0}};
        return;
    }
    out->options = 1 + (int)pick(&s, 3);
    long long combinations = out->options == 1   ? VALUES
                             : out->options == 2 ? VALUES * VALUES
                                                 : VALUES * VALUES * VALUES;
    long long count = 2 + pick(&s, SEED_VARIANTS_MAX - 1);
    out->count = (int)(count < combinations ? count : combinations);
    long long start = pick(&s, (uint64_t)combinations);
    for (int j = 0; j < out->count; j++) {
        struct seed_variant *v = &out->v[j];
        long long combination = (start + j) % combinations;
        for (int d = 0; d < out->options; d++, combination /= VALUES)
            v->values[d] = (int)(combination % VALUES);
        v->cents = cents + pick(&s, 4) * 250;
        v->stock = pick(&s, 8) == 0 ? 0 : 1 + pick(&s, 120);
        v->active = j == 0 || pick(&s, 20) != 0;
    }
}

static void options_json(const struct seed_variants *vs, struct buf *out) {
    buf_printf(out, "[");
    bool first_name = true;
    for (int k = 0; k < 3; k++) {
        int d = OUTPUT_ORDER[k];
        if (d >= vs->options)
            continue;
        buf_printf(out, "%s{\"name\": \"%s\", \"values\": [", first_name ? "" : ", ",
                   OPTION_NAMES[d]);
        first_name = false;
        bool seen[VALUES] = {false};
        bool first_value = true;
        for (int j = 0; j < vs->count; j++) {
            int value = vs->v[j].values[d];
            if (seen[value])
                continue;
            seen[value] = true;
            buf_printf(out, "%s\"%s\"", first_value ? "" : ", ", OPTION_VALUES[d][value]);
            first_value = false;
        }
        buf_printf(out, "]}");
    }
    buf_printf(out, "]");
}

void seed_variants_derive(const struct seed_variants *vs, long long *min, long long *max,
                          long long *stock, int *active, struct buf *options) {
    *min = *max = vs->v[0].cents;
    *stock = 0;
    *active = 0;
    for (int j = 0; j < vs->count; j++) {
        const struct seed_variant *v = &vs->v[j];
        if (!v->active)
            continue;
        if (*active == 0 || v->cents < *min)
            *min = v->cents;
        if (*active == 0 || v->cents > *max)
            *max = v->cents;
        *stock += v->stock;
        ++*active;
    }
    options->len = 0;
    options_json(vs, options);
}

void seed_variants_terms(const struct seed_variants *vs, bool in_stock, struct seed_terms *t,
                         struct seed_term_set *set) {
    set->count = 0;
    bool any = false;
    for (int j = 0; j < vs->count; j++) {
        const struct seed_variant *v = &vs->v[j];
        if (!v->active || (in_stock && v->stock == 0))
            continue;
        any = true;
        for (int d = 0; d < vs->options; d++)
            seed_term_set_add(set, seed_term_id(t, SEED_TERM_OPTION, OPTION_NAMES[d],
                                                OPTION_VALUES[d][v->values[d]]));
    }
    /* one term per name, with the empty value (migration 0036) */
    for (int d = 0; any && d < vs->options; d++)
        seed_term_set_add(set, seed_term_id(t, SEED_TERM_OPTION, OPTION_NAMES[d], ""));
}

void seed_variant_line(struct buf *out, long i, long long id, const struct seed_variants *vs, int j,
                       const char *created) {
    const struct seed_variant *v = &vs->v[j];
    char sku[48];
    if (j == 0)
        snprintf(sku, sizeof sku, "SKU-%08ld", i + 1);
    else
        snprintf(sku, sizeof sku, "SKU-%08ld-%02d", i + 1, j + 1);
    buf_printf(out, "%lld\t%ld\t%s\t%lld\t%lld\t{", id, i + 1, sku, v->cents, v->stock);
    for (int d = 0; d < vs->options; d++)
        buf_printf(out, "%s\"%s\": \"%s\"", d ? ", " : "", OPTION_NAMES[d],
                   OPTION_VALUES[d][v->values[d]]);
    buf_printf(out, "}\t%s\t%d\t%s\t%s\n", v->active ? "t" : "f", j + 1, created, created);
}
