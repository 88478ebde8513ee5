#!/usr/bin/env bash
# bench/catalog.sh -- uncached catalog reads against a seeded catalog.
#
#   bench/catalog.sh                        # 100,000 products
#   BENCH_PRODUCTS=1000000 bench/catalog.sh # 1,000,000 products
#
# Seeds a private database, starts nexus without Redis (every read goes to
# PostgreSQL), and drives each scenario with wrk for BENCH_DURATION at
# BENCH_CONNECTIONS connections. Product by id is compared with pgbench
# running the same SELECT over the same socket with as many connections.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-100000}
bench_setup
bench_uncached_catalog "$PRODUCTS"

api=http://127.0.0.1:$BENCH_PORT/api/v1
listing="category=dept-1&min_price=1.00&max_price=1000.00&sort=price"
shelf=dept-1-section-2-shelf-3
q=$(psql_bench -c "$BENCH_SEARCH_SQL")
max_id=$(psql_bench -c "SELECT max(id) FROM products")

# Reach row 100,000 of the filtered listing through its cursors (or as deep
# as the listing goes at this size).
depth=$(psql_bench -c "SELECT least(100000, count(*) - 20) FROM products p
                       JOIN categories c ON c.id = p.category_id
                       WHERE p.is_active AND p.deleted_at IS NULL
                       AND p.price_cents BETWEEN 100 AND 100000
                       AND c.slug LIKE 'dept-1-%'")
cursor=$(bench_cursor_at "$api/products?$listing" "$depth")

bench_by_id_lua "$max_id" >"$BENCH_TMP/by_id.lua"
# The SELECT the server runs for one product (pgbench would read the ':' of
# the time format as variables, hence chr(58)).
fmt="replace('YYYY-MM-DD\"T\"HH24|MI|SS.US\"Z\"', '|', chr(58))"
cat >"$BENCH_TMP/by_id.sql" <<SQL
\set id random(1, $max_id)
SELECT p.id, p.sku, p.name, p.slug, p.description, p.price_cents, p.currency, p.stock, p.is_active, p.category_id, c.name, c.slug, to_char(p.created_at AT TIME ZONE 'UTC', $fmt), to_char(p.updated_at AT TIME ZONE 'UTC', $fmt), lower(p.name) FROM products p LEFT JOIN categories c ON c.id = p.category_id WHERE p.id = :id AND p.deleted_at IS NULL;
SQL

echo "## Catalog reads, uncached: $PRODUCTS products ($(nproc) cores, $BENCH_CONNECTIONS connections, $BENCH_DURATION each)"
echo
bench_header
bench_wrk "first page, default sort" "/api/v1/products"
bench_wrk "first page, include_total=true" "/api/v1/products?include_total=true"
bench_wrk "category=dept-1, include_total=true" "/api/v1/products?category=dept-1&include_total=true"
bench_wrk "a shelf (no subcategories), first page" "/api/v1/products?category=$shelf"
BENCH_CONNECTIONS=1 BENCH_THREADS=1 bench_wrk "a shelf, first page (1 connection)" \
    "/api/v1/products?category=$shelf"
bench_wrk "category + price range, sort=price" "/api/v1/products?$listing"
bench_wrk "same listing, row $depth via cursor" "/api/v1/products?$listing&cursor=$cursor"
bench_wrk "q=$q" "/api/v1/products?q=$q"
BENCH_CONNECTIONS=1 BENCH_THREADS=1 bench_wrk "q=$q (1 connection)" "/api/v1/products?q=$q"
BENCH_CONNECTIONS=1 BENCH_THREADS=1 bench_wrk "first page, sort=price (1 connection)" \
    "/api/v1/products?$listing"
BENCH_CONNECTIONS=1 BENCH_THREADS=1 bench_wrk "row $depth via cursor (1 connection)" \
    "/api/v1/products?$listing&cursor=$cursor"
bench_wrk "product by id (random)" "/" "$BENCH_TMP/by_id.lua"
tps=$("$PG_BIN/pgbench" -h "$BENCH_TMP/sock" -U postgres -n -M prepared -c "$BENCH_CONNECTIONS" \
    -j "$BENCH_THREADS" -T "${BENCH_DURATION%s}" -f "$BENCH_TMP/by_id.sql" postgres 2>/dev/null |
    awk '/^tps/ {print $3; exit}')
printf '| %-40s | %10s | %9s | %9s | %9s | %6s |\n' "pgbench: the same SELECT by id" "$tps" "" "" "" ""
