#!/usr/bin/env bash
# bench/discovery.sh -- attribute and option filters and facets, uncached.
#
#   bench/discovery.sh                        # 100,000 products
#   BENCH_PRODUCTS=1000000 bench/discovery.sh # 1,000,000 products
#
# Seeds a private database, starts nexus without Redis (every read goes to
# PostgreSQL) and measures with wrk at 1 connection: the first page of the
# default list unfiltered (the reference), with one attr.* filter, and
# with two option.* filters plus in_stock=true; facets over the whole
# catalog and over one top-level category, each against pgbench counting
# the same set (the floor: facets read the set at least once). Then, with
# Redis, cached facets at BENCH_CONNECTIONS connections.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-100000}
bench_setup
cached_redis=$REDIS_URL
unset REDIS_URL
"$BUILD/nexus" seed --products "$PRODUCTS" >&2
bench_start_server
psql_bench() { psql -h "$BENCH_TMP/sock" -U postgres -d postgres -XAtq "$@"; }

# A brand of the catalog (about 1 product in 1,600).
brand=$(psql_bench -c "SELECT attributes->>'brand' FROM products WHERE id = 4242")
one="attr.brand=$brand"
two="option.Size=M&option.Color=Red&in_stock=true"
dept="category=dept-1"

cat >"$BENCH_TMP/count_all.sql" <<SQL
SELECT count(*) FROM products p WHERE p.deleted_at IS NULL AND p.is_active;
SQL
cat >"$BENCH_TMP/count_dept.sql" <<SQL
SELECT count(*) FROM products p WHERE p.deleted_at IS NULL AND p.is_active AND p.category_id IN (WITH RECURSIVE t AS (SELECT id FROM categories WHERE slug = 'dept-1' UNION ALL SELECT c.id FROM categories c JOIN t ON c.parent_id = t.id) SELECT id FROM t);
SQL
pgbench_p50() {
    "$PG_BIN/pgbench" -h "$BENCH_TMP/sock" -U postgres -n -c 1 -j 1 -T "${BENCH_DURATION%s}" \
        -r -f "$1" postgres 2>/dev/null | awk '/latency average/ {print $4 "ms"; exit}'
}

echo "## Discovery, uncached: $PRODUCTS products ($(nproc) cores, 1 connection, $BENCH_DURATION each)"
echo
bench_header
export BENCH_CONNECTIONS=1 BENCH_THREADS=1
bench_wrk "first page, unfiltered" "/api/v1/products"
bench_wrk "first page, $one" "/api/v1/products?$one"
bench_wrk "first page, $two" "/api/v1/products?$two"
bench_wrk "facets, whole catalog" "/api/v1/products/facets?price_buckets=0,50,100,500"
bench_wrk "facets, $dept" "/api/v1/products/facets?$dept&price_buckets=0,50,100,500"
echo
echo "pgbench count(*), whole catalog: average $(pgbench_p50 "$BENCH_TMP/count_all.sql")"
echo "pgbench count(*), $dept: average $(pgbench_p50 "$BENCH_TMP/count_dept.sql")"

# Cached facets: the same bytes from Redis.
kill -TERM "$BENCH_PID" && wait "$BENCH_PID" 2>/dev/null || true
export REDIS_URL=$cached_redis BENCH_CONNECTIONS=${CACHED_CONNECTIONS:-32} BENCH_THREADS=2
bench_start_server
curl -sf "http://127.0.0.1:$BENCH_PORT/api/v1/products/facets?$dept" >/dev/null
echo
bench_header
bench_wrk "facets, $dept, cached" "/api/v1/products/facets?$dept"
