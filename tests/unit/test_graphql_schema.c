/*
 * test_graphql_schema.c -- the schema's tables (graphql/schema): lookups,
 * type references, consistency, and the SDL in docs/schema.graphql
 * (graphql/sdl) equal to what the tables print.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/xmem.h"
#include "nexus/graphql/schema.h"
#include "nexus/graphql/sdl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_schema_lookups(void **state) {
    (void)state;
    const struct gql_type_def *product = gql_schema_type("Product");
    assert_non_null(product);
    assert_int_equal(product->kind, GQL_KIND_OBJECT);
    const struct gql_field_def *variants = gql_schema_field(product, "variants");
    assert_string_equal(variants->type, "[Variant!]!");
    struct gql_tref t = gql_tref(variants->type);
    assert_int_equal(gql_tref_kind(t), GQL_KIND_NON_NULL);
    assert_int_equal(gql_tref_kind(gql_tref_of(t)), GQL_KIND_LIST);
    assert_int_equal(gql_tref_kind(gql_tref_of(gql_tref_of(t))), GQL_KIND_NON_NULL);
    assert_int_equal(gql_tref_kind(gql_tref_of(gql_tref_of(gql_tref_of(t)))), GQL_KIND_OBJECT);
    assert_ptr_equal(gql_tref_named(t), gql_schema_type("Variant"));
    assert_non_null(gql_schema_field(product, "__typename"));
    assert_null(gql_schema_field(product, "__schema"));
    assert_non_null(gql_schema_field(gql_schema_query_type(), "__type"));
    assert_null(gql_schema_field(gql_schema_type("User"), "password_hash"));
    assert_null(gql_schema_field(gql_schema_type("User"), "passwordHash"));
    assert_string_equal(
        gql_schema_arg(gql_schema_field(gql_schema_query_type(), "products")->args, 4, "first")
            ->default_value,
        "20");
    assert_non_null(gql_schema_enum_value(gql_schema_type("ProductSort"), "PRICE_DESC"));
    assert_non_null(gql_schema_input_field(gql_schema_type("ProductFilter"), "includeInactive"));
    assert_non_null(gql_schema_directive("specifiedBy"));
    assert_string_equal(gql_directive_location_name(18), "INPUT_FIELD_DEFINITION");
}

/* Every type a table names exists, every name is unique within its table,
 * and argument and input types are input types. */
static void test_schema_is_consistent(void **state) {
    (void)state;
    size_t n;
    const struct gql_type_def *types = gql_schema_types(&n);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(gql_schema_type(types[i].name), &types[i]);
        for (size_t f = 0; f < types[i].field_count; f++) {
            const struct gql_field_def *fd = &types[i].fields[f];
            if (!gql_tref_named(gql_tref(fd->type)))
                fail_msg("%s.%s: unknown type %s", types[i].name, fd->name, fd->type);
            assert_ptr_equal(gql_schema_field(&types[i], fd->name), fd);
            for (size_t a = 0; a < fd->arg_count; a++)
                assert_true(gql_kind_is_input(gql_tref_named(gql_tref(fd->args[a].type))->kind));
        }
        for (size_t f = 0; f < types[i].input_field_count; f++)
            assert_true(
                gql_kind_is_input(gql_tref_named(gql_tref(types[i].input_fields[f].type))->kind));
    }
}

/* docs/schema.graphql is the tables' SDL (plus a final newline): a change
 * of the tables without the file, or the other way round, fails here. */
static void test_sdl_file_matches_the_tables(void **state) {
    (void)state;
    struct buf want = {0}, got = {0};
    gql_schema_sdl(&want);
    buf_puts(&want, "\n");
    FILE *f = fopen(NEXUS_SOURCE_DIR "/docs/schema.graphql", "rb");
    assert_non_null(f);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&got, chunk, n);
    fclose(f);
    if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0)
        fail_msg("docs/schema.graphql differs from gql_schema_sdl(): regenerate it");
    assert_non_null(strstr(want.data, "type Product {"));
    assert_null(strstr(want.data, "__Type"));
    assert_null(strstr(want.data, "passwordHash"));
    assert_null(strstr(want.data, "password_hash"));
    buf_clear(&want);
    buf_clear(&got);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_lookups),
        cmocka_unit_test(test_schema_is_consistent),
        cmocka_unit_test(test_sdl_file_matches_the_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
