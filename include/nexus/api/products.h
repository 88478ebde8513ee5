/*
 * products.h -- the product endpoints.
 */
#ifndef NEXUS_API_PRODUCTS_H
#define NEXUS_API_PRODUCTS_H

#include "nexus/api/listing.h"
#include "nexus/db/products.h"
#include "nexus/http/request.h"
#include "nexus/http/response.h"

enum nx_err api_products_list(struct request *req, struct response *res);
enum nx_err api_products_get(struct request *req, struct response *res);
enum nx_err api_products_create(struct request *req, struct response *res);
enum nx_err api_products_replace(struct request *req, struct response *res);
enum nx_err api_products_patch(struct request *req, struct response *res);
enum nx_err api_products_delete(struct request *req, struct response *res);

/* The product list's sorts ("-created_at", ...), as cursors name them. */
extern const struct list_spec api_product_list;
/* The product column holding the cursor value of sort (an index into
 * api_product_list.sorts). */
int api_product_sort_column(size_t sort);
/* The total of a list: all matches, but a search counts at most
 * SEARCH_TOTAL_CAP of them (then *capped). */
enum nx_err api_products_total(struct db *db, const struct product_filter *f, long long *total,
                               bool *capped);

/* Whether the caller is staff (sees inactive products and variants). */
bool api_is_staff(const struct request *req);
/* Load a live product the caller may see into *r (404 otherwise); with
 * lock, the row is locked for the rest of the transaction. */
/* Checks run route, role, body, fields: a product the caller cannot see
 * is a 404 even when the body is invalid too. e is the body's verdict:
 * NX_ERR_VALIDATION becomes NX_ERR_NOT_FOUND (with its detail) when the
 * product is missing; any other e is returned as it is. */
enum nx_err api_product_missing_first(struct request *req, struct db *db, const char *id,
                                      enum nx_err e);
enum nx_err api_product_visible(struct request *req, struct db *db, const char *id, bool lock,
                                PGresult **r);
/* The item body of product id: its fields and the variants the caller may
 * see, read in one statement (owned by the caller; *len its length); 404
 * when the caller may not see the product. */
enum nx_err api_product_item(struct request *req, struct db *db, const char *id, char **body,
                             size_t *len);

#endif
