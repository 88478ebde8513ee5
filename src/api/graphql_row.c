/*
 * graphql_row.c -- products read from their row (see graphql_catalog.h).
 *
 * A product node is a small object, empty until the batch functions of
 * Product.variants and Product.category give it its id or its category;
 * the request's catalog context finds its row by its address. Its other
 * fields are written straight from the row's columns to the answer, the
 * jsonb ones (attributes, options, images) read with core/jsonscan
 * without a tree: building every product as jansson values (parsing the
 * jsonb columns, packing the members, reshaping the attributes) was more
 * than half of a page's work (docs/PERFORMANCE.md). Each writer writes
 * exactly what the executor would write for the value gql_product_row
 * builds; whatever one does not handle (an escaped string in a jsonb
 * column, a selection it does not know, __typename below a field) it
 * declines, and the field resolves from that value, built once for the
 * row. An attribute's type and text are decided by the functions of
 * graphql_shape.h on both paths.
 */
#include "nexus/api/graphql_catalog.h"

#include "nexus/api/graphql_shape.h"
#include "nexus/core/jsonscan.h"
#include "nexus/core/jsonw.h"
#include "nexus/core/parse.h"
#include "nexus/core/xmem.h"
#include "nexus/model/product.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An integer column: PostgreSQL's text of a bigint (an optional '-' and
 * at most 19 digits, which fit), read without strtoll's locale and base
 * handling. */
static json_int_t int_at(const PGresult *r, int row, int col) {
    const char *p = PQgetvalue(r, row, col);
    bool negative = *p == '-';
    uint64_t v = 0;
    for (p += negative; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return negative ? (json_int_t)(0 - v) : (json_int_t)v;
}

/* The slot of node's address in the context's table (cap a power of 2). */
static size_t node_slot(const struct gql_catalog *c, const json_t *node) {
    size_t i = (size_t)(((uintptr_t)node >> 4) * 0x9e3779b97f4a7c15u) & (c->node_slot_cap - 1);
    while (c->node_slots[i] && c->rows[c->node_slots[i] - 1].node != node)
        i = (i + 1) & (c->node_slot_cap - 1);
    return i;
}

/* Room for one more row, and for its node in the table. */
static void rows_grow(struct gql_catalog *c) {
    if (c->row_count == c->row_cap) {
        c->row_cap = c->row_cap ? 2 * c->row_cap : 32;
        c->rows = xrealloc(c->rows, c->row_cap * sizeof *c->rows);
    }
    if (2 * (c->row_count + 1) <= c->node_slot_cap)
        return;
    free(c->node_slots);
    c->node_slot_cap = c->node_slot_cap ? 2 * c->node_slot_cap : 64;
    c->node_slots = xcalloc(c->node_slot_cap, sizeof *c->node_slots);
    for (size_t i = 0; i < c->row_count; i++)
        c->node_slots[node_slot(c, c->rows[i].node)] = i + 1;
}

json_t *gql_product_node(struct gql_catalog *c, const PGresult *r, int row) {
    rows_grow(c);
    json_t *node = json_object();
    c->rows[c->row_count] = (struct gql_row){r, row, json_incref(node), NULL};
    c->node_slots[node_slot(c, node)] = ++c->row_count;
    return node;
}

static struct gql_row *row_of(struct gql_catalog *c, const json_t *source) {
    if (source == c->last_node && c->last_node)
        return &c->rows[c->last_row];
    size_t n = c->node_slot_cap ? c->node_slots[node_slot(c, source)] : 0;
    if (!n)
        return NULL;
    c->last_node = source;
    c->last_row = n - 1;
    return &c->rows[n - 1];
}

void gql_product_ids(struct gql_catalog *c, json_t *sources) {
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s) {
        const struct gql_row *row = row_of(c, s);
        if (row && !json_object_get(s, "id"))
            json_object_set_new(s, "id", json_integer(int_at(row->r, row->row, PC_ID)));
    }
}

void gql_product_categories(struct gql_catalog *c, json_t *sources, const char *member) {
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s) {
        const struct gql_row *row = row_of(c, s);
        if (!row || json_object_get(s, member))
            continue;
        const PGresult *r = row->r;
        int k = row->row;
        json_t *category = json_null();
        if (!PQgetisnull(r, k, PC_CATEGORY_ID))
            category = json_pack("{s:I, s:s%, s:s%}", "id", int_at(r, k, PC_CATEGORY_ID), "name",
                                 PQgetvalue(r, k, PC_CATEGORY_NAME),
                                 (size_t)PQgetlength(r, k, PC_CATEGORY_NAME), "slug",
                                 PQgetvalue(r, k, PC_CATEGORY_SLUG),
                                 (size_t)PQgetlength(r, k, PC_CATEGORY_SLUG));
        NX_ASSERT(category); /* PostgreSQL's text is UTF-8 */
        json_object_set_new(s, member, category);
    }
}

json_t *gql_product_member(struct gql_field_call *call) {
    struct gql_catalog *c = call->ctx;
    struct gql_row *row = row_of(c, call->source);
    if (!row)
        return json_incref(json_object_get(call->source, call->field->name));
    if (!row->full)
        row->full = gql_product_row(row->r, row->row, c->staff);
    return json_incref(json_object_get(row->full, call->field->name));
}

/* ---- columns ----------------------------------------------------------- */

/* What a writer of one column is given. */
struct cell {
    const struct gql_catalog *c;
    const struct gql_row *row;
    struct gql_write_call *call;
    bool utf8; /* the jsonb column being read is valid UTF-8 (see w_content) */
};

typedef bool (*cell_fn)(const struct cell *x, int col);

static const char *value_at(const struct cell *x, int col) {
    return PQgetvalue(x->row->r, x->row->row, col);
}

/* s[0..n) appended: in place when there is room (most writes are a few
 * bytes into a buffer that already has it), else through buf_append. */
static inline void put_n(struct buf *out, const char *s, size_t n) {
    if (out->cap - out->len <= n) {
        buf_append(out, s, n);
        return;
    }
    memcpy(out->data + out->len, s, n);
    out->len += n;
    out->data[out->len] = '\0';
}

/* Inlined, so that the length of a literal is known when compiled. */
static inline void put(const struct cell *x, const char *s) {
    put_n(x->call->out, s, strlen(s));
}

static bool w_text(const struct cell *x, int col) {
    buf_json_text(x->call->out, value_at(x, col), (size_t)PQgetlength(x->row->r, x->row->row, col));
    return true;
}

/* An ID from an integer: its decimal string. */
static bool w_id(const struct cell *x, int col) {
    put(x, "\"");
    jsonw_put_int(x->call->out, int_at(x->row->r, x->row->row, col));
    put(x, "\"");
    return true;
}

/* An Int: only within 32 bits (else the executor's error). */
static bool w_int32(const struct cell *x, int col) {
    json_int_t v = int_at(x->row->r, x->row->row, col);
    if (v < INT32_MIN || v > INT32_MAX)
        return false;
    jsonw_put_int(x->call->out, v);
    return true;
}

static bool w_money(const struct cell *x, int col) {
    char price[NX_MONEY_BUF];
    size_t n = format_money(int_at(x->row->r, x->row->row, col), price, sizeof price);
    buf_json_text(x->call->out, price, n);
    return true;
}

static bool w_positive(const struct cell *x, int col) {
    put(x, int_at(x->row->r, x->row->row, col) > 0 ? "true" : "false");
    return true;
}

static bool w_flag(const struct cell *x, int col) {
    put(x, value_at(x, col)[0] == 't' ? "true" : "false");
    return true;
}

static bool w_variant_count(const struct cell *x, int col) {
    (void)col;
    return w_int32(x, x->c->staff ? PC_VARIANT_COUNT : PC_VARIANT_ACTIVE_COUNT);
}

/* A field read from one column. */
struct column {
    const char *name;
    int col;
    cell_fn write;
};

static const struct column *column_named(const struct column *t, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

/* An object of the selected sub-fields, each one of the columns (or
 * __typename). */
static bool w_row_object(const struct cell *x, const struct column *t, size_t n) {
    const struct gql_write_call *call = x->call;
    put(x, "{");
    for (size_t i = 0; i < call->subfield_count; i++) {
        const struct gql_subfield *f = &call->subfields[i];
        const struct column *m = f->def ? column_named(t, n, f->def->name) : NULL;
        bool typename = f->def && strcmp(f->def->name, "__typename") == 0;
        if (!m && !typename)
            return false;
        put(x, i ? "," : "");
        gql_put_key(call->out, f->key);
        if (typename) {
            const char *name = gql_tref_named(gql_tref(call->field->type))->name;
            buf_json_text(call->out, name, strlen(name));
        } else if (!m->write(x, m->col)) {
            return false;
        }
    }
    put(x, "}");
    x->call->values += call->subfield_count;
    return true;
}

static const struct column PRICE_RANGE[] = {
    {"min", PC_PRICE_CENTS, w_money},
    {"max", PC_PRICE_MAX_CENTS, w_money},
};

static bool w_price_range(const struct cell *x, int col) {
    (void)col;
    return w_row_object(x, PRICE_RANGE, sizeof PRICE_RANGE / sizeof PRICE_RANGE[0]);
}

static const struct column CATEGORY[] = {
    {"id", PC_CATEGORY_ID, w_id},
    {"name", PC_CATEGORY_NAME, w_text},
    {"slug", PC_CATEGORY_SLUG, w_text},
};

/* The row's category, unless Product.category's batch put one in the
 * field's member of the node (a selection of more than the row holds). */
static bool w_category(const struct cell *x, int col) {
    if (json_object_get(x->call->source, x->call->member))
        return false;
    if (PQgetisnull(x->row->r, x->row->row, col)) {
        put(x, "null");
        return true;
    }
    if (w_row_object(x, CATEGORY, sizeof CATEGORY / sizeof CATEGORY[0]))
        return true;
    /* Declined: the executor reads the node's member, so it must hold it. */
    json_t *one = json_array();
    json_array_append(one, x->call->source);
    gql_product_categories((struct gql_catalog *)(uintptr_t)x->c, one, x->call->member);
    json_decref(one);
    return false;
}

/* ---- jsonb columns --------------------------------------------------------- */

/* A string's content written as its value: false when it has escapes.
 * Without escapes, in a column of valid UTF-8, it needs none either:
 * PostgreSQL escapes quotes, backslashes and control characters, the only
 * bytes buf_json_text would escape then, so it is copied as it is. */
static bool w_content(const struct cell *x, struct jsonspan s) {
    if (jsonspan_escaped(s))
        return false;
    if (!x->utf8) {
        buf_json_text(x->call->out, s.s, s.len);
        return true;
    }
    struct buf *out = x->call->out;
    if (out->cap - out->len <= s.len + 2)
        buf_reserve(out, s.len + 2);
    char *p = out->data + out->len;
    p[0] = '"';
    memcpy(p + 1, s.s, s.len);
    p[s.len + 1] = '"';
    out->len += s.len + 2;
    out->data[out->len] = '\0';
    return true;
}

/* The cell for reading the jsonb column col. */
static struct cell jsonb_cell(const struct cell *x, int col) {
    struct cell y = *x;
    y.utf8 = utf8_valid(value_at(x, col), (size_t)PQgetlength(x->row->r, x->row->row, col));
    return y;
}

/* One member of a jsonb object: its key's content and its value. */
struct member {
    struct jsonspan key, value;
};

/* What a writer of a list of objects (options, images, attributes) needs
 * of each selected sub-field, worked out once per list rather than once
 * per item: its name's length and what it reads. */
enum sub_kind { SUB_STRING, SUB_STRINGS, SUB_KEY, SUB_VALUE, SUB_TYPE, SUB_OTHER };

struct sub {
    const char *name;
    size_t len;
    enum sub_kind kind;
    char key[40];   /* its response key written ("key":), when it fits */
    size_t key_len; /* 0 when it does not */
};

/* A member of Option or Image (String!, [String!]!, or anything else). */
static enum sub_kind list_member_kind(const struct gql_field_def *def) {
    if (strcmp(def->type, "String!") == 0 || strcmp(def->type, "String") == 0)
        return SUB_STRING;
    return strcmp(def->type, "[String!]!") == 0 ? SUB_STRINGS : SUB_OTHER;
}

/* A member of Attribute (key, value, type). */
static enum sub_kind attribute_member_kind(const struct gql_field_def *def) {
    return strcmp(def->name, "key") == 0     ? SUB_KEY
           : strcmp(def->name, "value") == 0 ? SUB_VALUE
           : strcmp(def->name, "type") == 0  ? SUB_TYPE
                                             : SUB_OTHER;
}

typedef enum sub_kind (*sub_kind_fn)(const struct gql_field_def *def);

/* subs_of's answers for the request: the executor hands the same
 * sub-fields (one address) to each item's writer of a field. */
struct subs_known {
    const struct gql_subfield *subfields;
    sub_kind_fn kind;
    struct sub *subs; /* NULL: declined */
};

struct gql_subs_memo {
    struct subs_known *items;
    size_t count, cap;
};

void gql_row_memo_free(struct gql_catalog *c) {
    if (!c->subs_memo)
        return;
    for (size_t i = 0; i < c->subs_memo->count; i++)
        free(c->subs_memo->items[i].subs);
    free(c->subs_memo->items);
    free(c->subs_memo);
}

/* The call's sub-fields worked out, or NULL (to decline) for one without
 * a definition. */
static struct sub *subs_made(const struct gql_write_call *call, sub_kind_fn kind) {
    size_t n = call->subfield_count;
    struct sub *subs = xmalloc((n ? n : 1) * sizeof *subs);
    for (size_t i = 0; i < n; i++) {
        const struct gql_field_def *def = call->subfields[i].def;
        if (!def) {
            free(subs);
            return NULL;
        }
        subs[i] = (struct sub){def->name, strlen(def->name), kind(def), "", 0};
        size_t k = strlen(call->subfields[i].key);
        if (k + 3 < sizeof subs[i].key) {
            subs[i].key[0] = '"';
            memcpy(subs[i].key + 1, call->subfields[i].key, k);
            memcpy(subs[i].key + 1 + k, "\":", 2);
            subs[i].key_len = k + 3;
        }
    }
    return subs;
}

/* The call's sub-fields (the request's: not to free), or NULL to decline. */
static struct sub *subs_of(const struct gql_write_call *call, sub_kind_fn kind) {
    struct gql_catalog *c = call->ctx;
    if (!c->subs_memo)
        c->subs_memo = xcalloc(1, sizeof *c->subs_memo);
    struct gql_subs_memo *m = c->subs_memo;
    for (size_t i = 0; i < m->count; i++)
        if (m->items[i].subfields == call->subfields && m->items[i].kind == kind)
            return m->items[i].subs;
    if (m->count == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 8;
        m->items = xrealloc(m->items, m->cap * sizeof *m->items);
    }
    m->items[m->count] = (struct subs_known){call->subfields, kind, subs_made(call, kind)};
    return m->items[m->count++].subs;
}

/* A sub-field's response key and its colon, after a comma unless first. */
static void put_sub_key(const struct cell *x, const struct sub *sub, size_t i) {
    if (i)
        put_n(x->call->out, ",", 1);
    if (sub->key_len)
        put_n(x->call->out, sub->key, sub->key_len);
    else
        gql_put_key(x->call->out, x->call->subfields[i].key);
}

/* A member's value (v) of a String or [String!]! sub-field. */
static bool w_strings(const struct cell *x, enum sub_kind kind, struct jsonspan v) {
    struct jsonscan js;
    struct jsonspan s;
    jsonscan_init(&js, v.s, v.len);
    if (kind == SUB_STRING)
        return jsonscan_string(&js, &s) && w_content(x, s);
    if (kind != SUB_STRINGS || !jsonscan_open(&js, '['))
        return false;
    bool first = true;
    size_t n = 0;
    put(x, "[");
    while (jsonscan_more(&js, ']', &first)) {
        put(x, n++ ? "," : "");
        if (!jsonscan_string(&js, &s) || !w_content(x, s))
            return false;
    }
    put(x, "]");
    x->call->values += n;
    return !js.bad;
}

/* The members of the object at js, at most cap of them (without escapes
 * in their keys); false when it is not such an object. */
static bool object_members(struct jsonscan *js, struct member *m, size_t cap, size_t *n) {
    bool first = true;
    *n = 0;
    if (!jsonscan_open(js, '{'))
        return false;
    while (jsonscan_more(js, '}', &first)) {
        if (*n == cap || !jsonscan_key(js, &m[*n].key) || jsonspan_escaped(m[*n].key) ||
            !jsonscan_value(js, &m[*n].value))
            return false;
        (*n)++;
    }
    return !js->bad;
}

static bool span_is(struct jsonspan a, const struct sub *b) {
    return a.len == b->len && memcmp(a.s, b->name, b->len) == 0;
}

/* The selected members of one object of a list, written in their order. */
static bool w_list_object(const struct cell *x, const struct sub *subs, const struct member *m,
                          size_t n) {
    const struct gql_write_call *call = x->call;
    for (size_t i = 0; i < call->subfield_count; i++) {
        const struct member *found = NULL;
        for (size_t k = 0; k < n && !found; k++)
            if (span_is(m[k].key, &subs[i]))
                found = &m[k];
        put_sub_key(x, &subs[i], i);
        if (!found || !w_strings(x, subs[i].kind, found->value))
            return false; /* absent: the executor's null or error */
    }
    return true;
}

/* An array of objects (options, images) with the selected members. */
static bool object_list(const struct cell *x, int col) {
    struct jsonscan js;
    struct member m[8];
    const struct sub *subs = subs_of(x->call, list_member_kind);
    bool first = true, ok = subs != NULL;
    size_t n = 0, count;
    jsonscan_init(&js, value_at(x, col), (size_t)PQgetlength(x->row->r, x->row->row, col));
    ok = ok && jsonscan_open(&js, '[');
    put(x, "[");
    while (ok && jsonscan_more(&js, ']', &first)) {
        put(x, n++ ? ",{" : "{");
        ok = object_members(&js, m, sizeof m / sizeof m[0], &count) &&
             w_list_object(x, subs, m, count);
        put(x, "}");
    }
    put(x, "]");
    x->call->values += n * (1 + x->call->subfield_count);
    return ok && !js.bad && jsonscan_peek(&js) == 0;
}

/* ---- options as REST writes them ----------------------------------------- */

/* A cursor over a jsonb column's text, copying what it reads compact. */
struct copy {
    const char *p, *end;
    struct buf *out;
    size_t strings; /* copied, other than keys */
};

static void copy_space(struct copy *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\t' || *c->p == '\r'))
        c->p++;
}

/* The next byte (after white space) is ch: skipped. */
static bool skip_char(struct copy *c, char ch) {
    copy_space(c);
    if (c->p == c->end || *c->p != ch)
        return false;
    c->p++;
    return true;
}

/* The next value is a string without escapes: its content. */
static bool read_string(struct copy *c, struct jsonspan *content) {
    copy_space(c);
    if (c->p == c->end || *c->p != '"')
        return false;
    const char *s = c->p + 1, *q = memchr(s, '"', (size_t)(c->end - s));
    if (!q || memchr(s, '\\', (size_t)(q - s)))
        return false;
    *content = (struct jsonspan){s, (size_t)(q - s)};
    c->p = q + 1;
    return true;
}

/* Whether the text was read to its end (ok so far, only white space left);
 * when not, out is cut back to start (the writer declines). */
static bool copy_done(struct copy *c, bool ok, struct buf *out, size_t start) {
    copy_space(c);
    if (ok && c->p == c->end)
        return true;
    out->len = start;
    out->data[start] = '\0';
    return false;
}

/* The next byte (after white space) is ch: copied. */
static bool copy_char(struct copy *c, char ch) {
    if (!skip_char(c, ch))
        return false;
    put_n(c->out, &ch, 1);
    return true;
}

static bool copy_peek(struct copy *c, char ch) {
    copy_space(c);
    return c->p < c->end && *c->p == ch;
}

/* The next value is a string without escapes (equal to key when key is
 * not NULL): copied with its quotes, as buf_json_text writes PostgreSQL's
 * text of it (valid UTF-8, control characters escaped, so none raw). */
static bool copy_string(struct copy *c, const char *key) {
    struct jsonspan v;
    if (!read_string(c, &v) || (key && (strlen(key) != v.len || memcmp(key, v.s, v.len) != 0)))
        return false;
    put_n(c->out, v.s - 1, v.len + 2);
    c->strings += key == NULL;
    return true;
}

/* One option: {"name": string, "values": [string, ...]}. */
static bool copy_option(struct copy *c) {
    if (!copy_char(c, '{') || !copy_string(c, "name") || !copy_char(c, ':') ||
        !copy_string(c, NULL) || !copy_char(c, ',') || !copy_string(c, "values") ||
        !copy_char(c, ':') || !copy_char(c, '['))
        return false;
    if (!copy_peek(c, ']'))
        do {
            if (!copy_string(c, NULL))
                return false;
        } while (copy_peek(c, ',') && copy_char(c, ','));
    return copy_char(c, ']') && copy_char(c, '}');
}

static bool is_field(const struct gql_subfield *f, const char *name) {
    return f->def && strcmp(f->def->name, name) == 0 && strcmp(f->key, name) == 0;
}

/* options { name values }, the selection REST's item has: the column's
 * text copied compact (what REST writes, and what the executor would),
 * when every option has that shape and no string has an escape; false
 * (nothing written) otherwise. */
static bool w_options_whole(const struct cell *x, int col) {
    const struct gql_write_call *call = x->call;
    if (call->subfield_count != 2 || !is_field(&call->subfields[0], "name") ||
        !is_field(&call->subfields[1], "values"))
        return false;
    const char *text = value_at(x, col);
    size_t len = (size_t)PQgetlength(x->row->r, x->row->row, col), start = call->out->len;
    struct copy c = {text, text + len, call->out, 0};
    size_t options = 0;
    bool ok = utf8_valid(text, len) && copy_char(&c, '[');
    if (ok && !copy_peek(&c, ']'))
        do {
            ok = copy_option(&c);
            options++;
        } while (ok && copy_peek(&c, ',') && copy_char(&c, ','));
    if (!copy_done(&c, ok && copy_char(&c, ']'), call->out, start))
        return false;
    /* each option and its two fields, and each value (the names' strings
     * are fields already) */
    x->call->values += options * 3 + (c.strings - options);
    return true;
}

/* ---- lists of objects of strings (images) ---------------------------------- */

/* One object of at most cap members, each a string without escapes. */
static bool read_string_object(struct copy *c, struct member *m, size_t cap, size_t *n) {
    *n = 0;
    if (!skip_char(c, '{'))
        return false;
    if (skip_char(c, '}'))
        return true;
    do {
        if (*n == cap || !read_string(c, &m[*n].key) || !skip_char(c, ':') ||
            !read_string(c, &m[*n].value))
            return false;
        (*n)++;
    } while (skip_char(c, ','));
    return skip_char(c, '}');
}

/* A list of objects whose members are strings without escapes, each
 * selected sub-field a String one of them (images { url alt }): read with
 * the cursor above rather than jsonscan. False (nothing written) for
 * anything else, which object_list then decides. */
static bool string_objects(const struct cell *x, int col, const struct sub *subs) {
    const struct gql_write_call *call = x->call;
    for (size_t i = 0; i < call->subfield_count; i++)
        if (subs[i].kind != SUB_STRING)
            return false;
    const char *text = value_at(x, col);
    struct copy c = {text, text + PQgetlength(x->row->r, x->row->row, col), NULL, 0};
    size_t start = call->out->len, n = 0, count;
    struct member m[8];
    bool ok = skip_char(&c, '['), empty = ok && skip_char(&c, ']');
    put(x, "[");
    if (ok && !empty) {
        do {
            ok = read_string_object(&c, m, sizeof m / sizeof m[0], &count);
            put(x, n++ ? ",{" : "{");
            for (size_t i = 0; i < call->subfield_count && ok; i++) {
                const struct member *found = NULL;
                for (size_t k = 0; k < count && !found; k++)
                    if (span_is(m[k].key, &subs[i]))
                        found = &m[k];
                put_sub_key(x, &subs[i], i);
                ok = found && w_content(x, found->value);
            }
            put(x, "}");
        } while (ok && skip_char(&c, ','));
        ok = ok && skip_char(&c, ']');
    }
    if (!copy_done(&c, ok, call->out, start))
        return false;
    put(x, "]");
    x->call->values += n * (1 + call->subfield_count);
    return true;
}

static bool w_object_list(const struct cell *x, int col) {
    struct cell y = jsonb_cell(x, col);
    const struct sub *subs = subs_of(x->call, list_member_kind);
    bool done = subs && y.utf8 && string_objects(&y, col, subs);
    return done || object_list(&y, col);
}

static bool w_options(const struct cell *x, int col) {
    return w_options_whole(x, col) || w_object_list(x, col);
}

static int by_key(const struct member *a, const struct member *b) {
    const struct jsonspan *x = &a->key, *y = &b->key;
    int d = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    return d ? d : (x->len > y->len) - (x->len < y->len);
}

/* Sorted by key: by insertion, since an object has a few attributes and
 * its keys are distinct (jsonb keeps one of each), so any sort gives the
 * same order. */
static void sort_by_key(struct member *m, size_t n) {
    for (size_t i = 1; i < n; i++) {
        struct member v = m[i];
        size_t k = i;
        for (; k > 0 && by_key(&m[k - 1], &v) > 0; k--)
            m[k] = m[k - 1];
        m[k] = v;
    }
}

/* The attributes object's members (keys without escapes), sorted by key
 * as graphql_shape sorts them: in the cap members at *out, or, when there
 * are more, in an array *out then points to (to free); false to decline. */
static bool attributes_sorted(const char *text, size_t len, struct member **out, size_t cap,
                              size_t *n) {
    struct jsonscan js;
    bool first = true, plain = true;
    struct member *given = *out;
    *n = 0;
    jsonscan_init(&js, text, len);
    if (!jsonscan_open(&js, '{'))
        return false;
    while (plain && jsonscan_more(&js, '}', &first)) {
        if (*n == cap) {
            struct member *grown = xmalloc(2 * cap * sizeof *grown);
            memcpy(grown, *out, cap * sizeof *grown);
            if (*out != given)
                free(*out);
            *out = grown;
            cap *= 2;
        }
        struct member *a = &(*out)[(*n)++];
        plain = jsonscan_key(&js, &a->key) && !jsonspan_escaped(a->key) &&
                jsonscan_value(&js, &a->value);
    }
    if (!plain || js.bad || jsonscan_peek(&js) != 0)
        return false;
    sort_by_key(*out, *n);
    return true;
}

/* An attribute's value as the list gives it (see graphql_shape.h): its
 * type and its text (a string's content, still escaped, or a number's or
 * boolean's text in buf); false for a value the list leaves out. */
struct attribute {
    const char *type;
    struct jsonspan text;
    char buf[GQL_NUMBER_BUF];
};

static bool attribute_of(struct jsonspan v, struct attribute *a) {
    char c = v.s[0];
    bool integer;
    json_int_t i = 0;
    double d = 0;
    if (c == '"') {
        *a = (struct attribute){.type = "\"STRING\"", .text = {v.s + 1, v.len - 2}};
        return true;
    }
    if (jsonspan_is(v, "true") || jsonspan_is(v, "false")) {
        *a = (struct attribute){.type = "\"BOOLEAN\"", .text = v};
        return true;
    }
    if (c != '-' && (c < '0' || c > '9'))
        return false; /* null, an object or an array */
    a->type = "\"NUMBER\"";
    a->text.s = a->buf;
    if (!gql_number_token(v.s, v.len, &integer, &i, &d))
        return false;
    a->text.len = gql_attribute_number(integer, i, d, a->buf, sizeof a->buf);
    return a->text.len > 0;
}

/* An Attribute's member: key, value (as text) or type. */
static bool w_attribute_member(const struct cell *x, const struct member *m,
                               const struct attribute *a, enum sub_kind kind) {
    if (kind == SUB_KEY)
        return w_content(x, m->key);
    if (kind == SUB_TYPE) {
        put(x, a->type);
        return true;
    }
    return kind == SUB_VALUE && w_content(x, a->text);
}

static bool attributes(const struct cell *x, int col) {
    const struct gql_write_call *call = x->call;
    size_t n = 0, written = 0;
    struct member stack[32], *attrs = stack;
    const struct sub *subs = subs_of(call, attribute_member_kind);
    bool ok = subs &&
              attributes_sorted(value_at(x, col), (size_t)PQgetlength(x->row->r, x->row->row, col),
                                &attrs, sizeof stack / sizeof stack[0], &n);
    if (ok)
        put(x, "[");
    for (size_t k = 0; k < n && ok; k++) {
        struct attribute a;
        if (!attribute_of(attrs[k].value, &a))
            continue; /* left out, as graphql_shape.c leaves it out */
        put(x, written++ ? ",{" : "{");
        for (size_t i = 0; i < call->subfield_count && ok; i++) {
            put_sub_key(x, &subs[i], i);
            ok = w_attribute_member(x, &attrs[k], &a, subs[i].kind);
        }
        put(x, "}");
    }
    if (ok)
        put(x, "]");
    if (attrs != stack)
        free(attrs);
    x->call->values += written * (1 + call->subfield_count);
    return ok;
}

static bool w_attributes(const struct cell *x, int col) {
    struct cell y = jsonb_cell(x, col);
    return attributes(&y, col);
}

/* ---- Product ------------------------------------------------------------- */

static const struct column PRODUCT[] = {
    {"id", PC_ID, w_id},
    {"sku", PC_SKU, w_text},
    {"name", PC_NAME, w_text},
    {"slug", PC_SLUG, w_text},
    {"description", PC_DESCRIPTION, w_text},
    {"price", PC_PRICE_CENTS, w_money},
    {"currency", PC_CURRENCY, w_text},
    {"stock", PC_STOCK, w_int32},
    {"inStock", PC_STOCK, w_positive},
    {"isActive", PC_IS_ACTIVE, w_flag},
    {"category", PC_CATEGORY_ID, w_category},
    {"createdAt", PC_CREATED_AT, w_text},
    {"updatedAt", PC_UPDATED_AT, w_text},
    {"priceRange", PC_PRICE_CENTS, w_price_range},
    {"options", PC_VARIANT_OPTIONS, w_options},
    {"variantCount", PC_VARIANT_COUNT, w_variant_count},
    {"attributes", PC_ATTRIBUTES, w_attributes},
    {"images", PC_IMAGES, w_object_list},
};

/* The column of a Product field, looked up once per definition. */
static const struct column *product_column(struct gql_catalog *c, const struct gql_field_def *def) {
    /* A type's definitions are an array: consecutive slots. */
    size_t slot = ((uintptr_t)def / sizeof *def) % (sizeof c->columns / sizeof c->columns[0]);
    if (c->column_defs[slot] != def) {
        c->column_defs[slot] = def;
        c->columns[slot] = column_named(PRODUCT, sizeof PRODUCT / sizeof PRODUCT[0], def->name);
    }
    return c->columns[slot];
}

bool gql_product_write(struct gql_write_call *call) {
    struct gql_catalog *c = call->ctx;
    const struct gql_row *row = row_of(c, call->source);
    const struct column *m = product_column(c, call->field);
    if (!row || !m)
        return false;
    struct cell x = {c, row, call, false};
    return m->write(&x, m->col);
}
