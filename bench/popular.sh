#!/usr/bin/env bash
# bench/popular.sh -- product-by-id reads with Zipf-like popularity
# (bench/popular.lua), alone and with a share of stock PATCHes of random
# products (of the product when it has one variant, else of one of its
# variants, picked at random), through the cache and on a server without Redis. Reports
# req/s, latencies and the cache's hit ratio (from /metrics) per run.
#
#   bench/popular.sh                                   # 100,000 products
#   BENCH_PRODUCTS=20000 BENCH_DURATION=3s bench/popular.sh
#   POPULAR_SKEW=1.2 POPULAR_WRITES=0.05 bench/popular.sh
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-100000}
export POPULAR_PRODUCTS=$PRODUCTS POPULAR_SKEW=${POPULAR_SKEW:-1.0}
WRITES=${POPULAR_WRITES:-0.01}
bench_setup
"$BUILD/nexus" seed --products "$PRODUCTS" --categories 52 >&2
bench_start_server
bench_start_uncached
export POPULAR_WRITE_IDS=$BENCH_TMP/write-ids.txt
psql "$DATABASE_URL" -AtF' ' -c "SELECT p.id, CASE WHEN p.variant_count > 1 THEN
    (SELECT v.id FROM product_variants v WHERE v.product_id = p.id AND v.deleted_at IS NULL
     ORDER BY random() LIMIT 1) END FROM products p WHERE p.deleted_at IS NULL" >"$POPULAR_WRITE_IDS"

# A staff account for the writes.
printf 'bench-staff-password\n' | "$BUILD/nexus" user create --email staff@example.com \
    --role staff >/dev/null
export POPULAR_TOKEN
POPULAR_TOKEN=$(curl -sf "http://127.0.0.1:$BENCH_PORT/api/v1/auth/login" \
    -H 'Content-Type: application/json' \
    -d '{"email":"staff@example.com","password":"bench-staff-password"}' |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/')

counter() { # the value of a /metrics counter on the cached server
    curl -sf "http://127.0.0.1:$BENCH_PORT/metrics" | awk -v n="$1" '$1 == n {print $2 + 0}'
}

# run NAME PORT WRITES: one wrk run, one table row (hit ratio on the cached
# server only).
run() {
    local name=$1 port=$2 hits misses rps p50 p95 p99 non2xx ratio=""
    hits=$(counter nexus_cache_hits_total)
    misses=$(counter nexus_cache_misses_total)
    read -r rps p50 p95 p99 non2xx < <(POPULAR_WRITES=$3 BENCH_PORT=$port \
        bench_wrk_values / "$(dirname "$0")/popular.lua")
    if [ "$port" = "$BENCH_PORT" ]; then
        hits=$(($(counter nexus_cache_hits_total) - hits))
        misses=$(($(counter nexus_cache_misses_total) - misses))
        ratio=$(awk -v h="$hits" -v m="$misses" 'BEGIN { if (h + m) printf "%.3f", h / (h + m) }')
    fi
    printf '| %-44s | %10s | %9s | %9s | %9s | %6s | %9s |\n' "$name" "$rps" "$(us_to_ms "$p50")" \
        "$(us_to_ms "$p95")" "$(us_to_ms "$p99")" "$non2xx" "$ratio"
}

echo "## Popular products: $PRODUCTS products, Zipf exponent $POPULAR_SKEW ($(nproc) cores, $BENCH_CONNECTIONS connections, $BENCH_DURATION each)"
echo
printf '| %-44s | %10s | %9s | %9s | %9s | %6s | %9s |\n' scenario "req/s" p50 p95 p99 non-2xx "hit ratio"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" ------------ ----------- \
    ----------- ----------- -------- -----------
run "reads, cold cache" "$BENCH_PORT" 0
run "reads, warm cache" "$BENCH_PORT" 0
run "reads + $WRITES stock PATCHes, cached" "$BENCH_PORT" "$WRITES"
run "reads, no Redis" "$UNCACHED_PORT" 0
run "reads + $WRITES stock PATCHes, no Redis" "$UNCACHED_PORT" "$WRITES"
