/*
 * routes.c -- THE route table: every endpoint of the API, in one place.
 *
 * A row: method, pattern, handler, access level, flags. The server refuses
 * to start if a row has no access level. HEAD and OPTIONS are implied.
 * Access levels include the ones below them: admin > staff > customer >
 * public.
 */
#include "nexus/http/router.h"
#include "nexus/http/cachekey.h"

#include "nexus/api/auth.h"
#include "nexus/api/categories.h"
#include "nexus/api/docs.h"
#include "nexus/api/exports.h"
#include "nexus/api/facets.h"
#include "nexus/api/graphiql.h"
#include "nexus/api/graphql.h"
#include "nexus/api/imports.h"
#include "nexus/api/logins.h"
#include "nexus/api/ops.h"
#include "nexus/api/products.h"
#include "nexus/api/recovery.h"
#include "nexus/api/users.h"
#include "nexus/api/variants.h"

#define JSON          ROUTE_JSON_BODY
#define CACHED        ROUTE_CACHEABLE
#define WRITE         ROUTE_INVALIDATES_CATALOG
#define ITEM          ROUTE_PRODUCT_ITEM
#define MISSING_FIRST ROUTE_MISSING_FIRST
#define NO_STORE      ROUTE_NO_STORE

const struct route nx_routes[] = {
    /* Probes and the spec never look the caller up in the database. */
    {HTTP_GET, "/healthz", api_healthz, ACCESS_PUBLIC, ROUTE_NO_AUTH},
    {HTTP_GET, "/readyz", api_readyz, ACCESS_PUBLIC, ROUTE_NO_AUTH},
    {HTTP_GET, "/metrics", api_metrics, ACCESS_PUBLIC, ROUTE_RAW | ROUTE_NO_AUTH | ROUTE_PRIVATE},
    {HTTP_GET, "/openapi.yaml", api_openapi, ACCESS_PUBLIC, ROUTE_RAW | ROUTE_NO_AUTH},
    {HTTP_GET, "/docs", api_docs_index, ACCESS_PUBLIC, ROUTE_RAW | ROUTE_NO_AUTH},
    {HTTP_GET, "/docs/{file}", api_docs_file, ACCESS_PUBLIC, ROUTE_RAW | ROUTE_NO_AUTH},
    {HTTP_GET, "/graphiql", api_graphiql_index, ACCESS_PUBLIC, ROUTE_RAW | ROUTE_NO_AUTH},
    {HTTP_GET, "/graphiql/{file}", api_graphiql_file, ACCESS_PUBLIC, ROUTE_RAW | ROUTE_NO_AUTH},

    {HTTP_POST, "/api/v1/auth/register", api_auth_register, ACCESS_PUBLIC,
     JSON | ROUTE_PASSWORD_BODY | NO_STORE},
    /* Their answers carry tokens, kept only sealed: see ROUTE_SEALED_REPLAY. */
    {HTTP_POST, "/api/v1/auth/login", api_auth_login, ACCESS_PUBLIC,
     JSON | ROUTE_SEALED_REPLAY | ROUTE_NUL_STRINGS | ROUTE_PASSWORD_BODY | NO_STORE},
    {HTTP_POST, "/api/v1/auth/refresh", api_auth_refresh, ACCESS_PUBLIC,
     JSON | ROUTE_SEALED_REPLAY | ROUTE_NUL_STRINGS | NO_STORE},
    {HTTP_POST, "/api/v1/auth/logout", api_auth_logout, ACCESS_PUBLIC,
     JSON | ROUTE_NUL_STRINGS | NO_STORE},
    {HTTP_POST, "/api/v1/auth/password-reset", api_auth_password_reset, ACCESS_PUBLIC,
     JSON | ROUTE_NUL_STRINGS | NO_STORE},
    {HTTP_POST, "/api/v1/auth/password-reset/confirm", api_auth_password_reset_confirm,
     ACCESS_PUBLIC, JSON | NO_STORE},
    {HTTP_POST, "/api/v1/auth/verify-email", api_auth_verify_email, ACCESS_PUBLIC, JSON | NO_STORE},
    {HTTP_POST, "/api/v1/auth/verify-email/resend", api_auth_verify_email_resend, ACCESS_CUSTOMER,
     ROUTE_EMPTY_BODY_OK | NO_STORE},

    {HTTP_GET, "/api/v1/users/me", api_users_me, ACCESS_CUSTOMER, NO_STORE},
    {HTTP_PATCH, "/api/v1/users/me", api_users_me_patch, ACCESS_CUSTOMER,
     JSON | MISSING_FIRST | NO_STORE},
    {HTTP_GET, "/api/v1/users/me/logins", api_logins_list, ACCESS_CUSTOMER, NO_STORE},
    {HTTP_DELETE, "/api/v1/users/me/logins/{id}", api_logins_delete, ACCESS_CUSTOMER, NO_STORE},
    {HTTP_GET, "/api/v1/users", api_users_list, ACCESS_ADMIN, NO_STORE},
    {HTTP_GET, "/api/v1/users/{id}", api_users_get, ACCESS_ADMIN, NO_STORE},
    {HTTP_PATCH, "/api/v1/users/{id}", api_users_patch, ACCESS_ADMIN,
     JSON | MISSING_FIRST | NO_STORE},
    {HTTP_DELETE, "/api/v1/users/{id}", api_users_delete, ACCESS_ADMIN, NO_STORE},

    {HTTP_GET, "/api/v1/categories", api_categories_list, ACCESS_PUBLIC, CACHED},
    {HTTP_POST, "/api/v1/categories", api_categories_create, ACCESS_STAFF, JSON | WRITE},
    {HTTP_GET, "/api/v1/categories/{id}", api_categories_get, ACCESS_PUBLIC,
     CACHED | ROUTE_ID_OR_SLUG},
    {HTTP_PATCH, "/api/v1/categories/{id}", api_categories_patch, ACCESS_STAFF,
     JSON | WRITE | ROUTE_ID_OR_SLUG | MISSING_FIRST},
    {HTTP_DELETE, "/api/v1/categories/{id}", api_categories_delete, ACCESS_STAFF,
     WRITE | ROUTE_ID_OR_SLUG},

    {HTTP_GET, "/api/v1/products", api_products_list, ACCESS_PUBLIC, CACHED},
    {HTTP_POST, "/api/v1/products", api_products_create, ACCESS_STAFF,
     JSON | WRITE | ROUTE_NEW_PRODUCT},
    /* Not /products/{id}: a literal segment beats a parameter (router.c). */
    {HTTP_GET, "/api/v1/products/facets", api_products_facets, ACCESS_PUBLIC, CACHED},
    {HTTP_GET, "/api/v1/products/{id}", api_products_get, ACCESS_PUBLIC, CACHED | ITEM},
    {HTTP_PUT, "/api/v1/products/{id}", api_products_replace, ACCESS_STAFF,
     JSON | WRITE | ITEM | MISSING_FIRST},
    {HTTP_PATCH, "/api/v1/products/{id}", api_products_patch, ACCESS_STAFF,
     JSON | WRITE | ITEM | MISSING_FIRST},
    {HTTP_DELETE, "/api/v1/products/{id}", api_products_delete, ACCESS_STAFF, WRITE | ITEM},
    /* A variant is part of its product (the first path parameter): its
     * reads are cached under the product's generation, and its writes
     * change that product's item and the lists. */
    {HTTP_GET, "/api/v1/products/{id}/variants", api_variants_list, ACCESS_PUBLIC, CACHED | ITEM},
    {HTTP_POST, "/api/v1/products/{id}/variants", api_variants_create, ACCESS_STAFF,
     JSON | WRITE | ITEM | MISSING_FIRST},
    {HTTP_GET, "/api/v1/products/{id}/variants/{vid}", api_variants_get, ACCESS_PUBLIC,
     CACHED | ITEM},
    {HTTP_PATCH, "/api/v1/products/{id}/variants/{vid}", api_variants_patch, ACCESS_STAFF,
     JSON | WRITE | ITEM | MISSING_FIRST},
    {HTTP_DELETE, "/api/v1/products/{id}/variants/{vid}", api_variants_delete, ACCESS_STAFF,
     WRITE | ITEM},

    /* GraphQL: GET answers of anonymous operations are cached (keyed on
     * the document's normal form, graphql_cache_key); POST is a read too,
     * so an Idempotency-Key has nothing to replay. */
    {HTTP_GET, "/graphql", api_graphql, ACCESS_PUBLIC, CACHED},
    {HTTP_POST, "/graphql", api_graphql, ACCESS_PUBLIC, ROUTE_OWN_BODY | ROUTE_NO_REPLAY},

    /* The upload is streamed to storage (nx_uploads below); a worker job
     * applies it, and bumps the catalog generation per batch. */
    {HTTP_POST, "/api/v1/imports", api_imports_create, ACCESS_STAFF, ROUTE_UPLOAD},
    {HTTP_GET, "/api/v1/imports", api_imports_list, ACCESS_STAFF, 0},
    {HTTP_GET, "/api/v1/imports/{id}", api_imports_get, ACCESS_STAFF, 0},
    {HTTP_GET, "/api/v1/imports/{id}/errors", api_imports_errors, ACCESS_STAFF, ROUTE_RAW},
    /* Streamed in batches as the client reads (api/exports.c). */
    {HTTP_GET, "/api/v1/exports/products", api_exports_products, ACCESS_STAFF, ROUTE_RAW},
};

const size_t nx_route_count = sizeof nx_routes / sizeof nx_routes[0];

const struct upload_spec nx_uploads[] = {
    {api_imports_create, api_imports_upload},
};

const size_t nx_upload_count = sizeof nx_uploads / sizeof nx_uploads[0];

/* ---- cache keys ----------------------------------------------------------
 *
 * Every CACHED row above has a row here naming each query parameter its
 * handler reads (see http/cachekey.h): the cache key is built from these
 * and nothing else, in this order.
 */

static const struct key_param CATEGORY_LIST_KEY[] = {
    {"parent", KEY_TEXT}, {"limit", KEY_STRICT},       {"sort", KEY_STRICT},
    {"cursor", KEY_TEXT}, {"include_total", KEY_BOOL}, {"fields", KEY_NAMES},
};

static const struct key_param PRODUCT_LIST_KEY[] = {
    {"q", KEY_TEXT},        {"min_price", KEY_MONEY},    {"max_price", KEY_MONEY},
    {"in_stock", KEY_BOOL}, {"currency", KEY_CURRENCY},  {"include_inactive", KEY_BOOL},
    {"category", KEY_TEXT}, {"limit", KEY_STRICT},       {"sort", KEY_STRICT},
    {"cursor", KEY_TEXT},   {"include_total", KEY_BOOL}, {"fields", KEY_NAMES},
    {"attr.", KEY_PREFIX},  {"option.", KEY_PREFIX},     {"sku", KEY_TEXT},
};

static const struct key_param FACETS_KEY[] = {
    {"q", KEY_TEXT},
    {"min_price", KEY_MONEY},
    {"max_price", KEY_MONEY},
    {"in_stock", KEY_BOOL},
    {"currency", KEY_CURRENCY},
    {"include_inactive", KEY_BOOL},
    {"category", KEY_TEXT},
    {"attr.", KEY_PREFIX},
    {"option.", KEY_PREFIX},
    {"price_buckets", KEY_TEXT},
    {"sku", KEY_TEXT},
};

static const struct key_param ITEM_KEY[] = {
    {"fields", KEY_NAMES},
};

static const struct key_param GRAPHQL_KEY[] = {
    {"query", KEY_TEXT},
    {"operationName", KEY_TEXT},
    {"variables", KEY_TEXT},
};

#define KEY_ROW(handler, params)                                                                   \
    { handler, params, sizeof params / sizeof params[0], NULL }

const struct cache_key_spec nx_cache_keys[] = {
    KEY_ROW(api_categories_list, CATEGORY_LIST_KEY),
    KEY_ROW(api_categories_get, ITEM_KEY),
    KEY_ROW(api_products_list, PRODUCT_LIST_KEY),
    KEY_ROW(api_products_get, ITEM_KEY),
    KEY_ROW(api_products_facets, FACETS_KEY),
    {api_variants_list, NULL, 0, NULL},
    {api_variants_get, NULL, 0, NULL},
    /* Keyed on the normal form of the document, not on its text. */
    {api_graphql, GRAPHQL_KEY, sizeof GRAPHQL_KEY / sizeof GRAPHQL_KEY[0], graphql_cache_key},
};

const size_t nx_cache_key_count = sizeof nx_cache_keys / sizeof nx_cache_keys[0];
