#!/usr/bin/env bash
# bench/search.sh -- product search by word length, uncached.
#
#   bench/search.sh                        # 100,000 products
#   BENCH_PRODUCTS=1000000 bench/search.sh # 1,000,000 products
#
# Seeds a private database (then VACUUM ANALYZE), starts nexus without
# Redis (every read goes to PostgreSQL), and measures at one connection
# the first page of q=<word> for words of 1 to 10 characters
# (BENCH_WORDS), each with its number of matches, next to the unfiltered
# first page; then include_total on broad and narrow searches, three words
# at 8 connections, and a short word at BENCH_CONNECTIONS connections with
# /readyz measured alongside.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-100000}
# Words of the seeded catalog, common and rare at each length (ng and orka are
# in about 1% of products, tv, qj, cord and iris in about 0.15%, the model
# codes qj-2 and qj-20 in about 0.02% and 0.003%; 4k in none).
WORDS=${BENCH_WORDS:-"e q j ng tv qj up 4k lum wire tent orka cord iris qj-2 qj-20 gorjor kettle blender ceramic waterproof"}
bench_setup
unset REDIS_URL
seed_start=$(date +%s)
"$BUILD/nexus" seed --products "$PRODUCTS" --categories 52 >&2
seed_seconds=$(($(date +%s) - seed_start))
bench_start_server
psql_bench() { psql -h "$BENCH_TMP/sock" -U postgres -d postgres -XAtq "$@"; }
# The state autovacuum reaches soon after a load, reached before measuring
# rather than during it (it otherwise runs through the first minutes).
psql_bench -c "VACUUM ANALYZE"
one() { BENCH_CONNECTIONS=1 BENCH_THREADS=1 bench_wrk_values "$@"; }

echo "## Search by word length: $PRODUCTS products ($(nproc) cores, 1 connection, $BENCH_DURATION each; seeded in ${seed_seconds}s)"
echo
read -r _ _ base95 _ _ < <(one "/api/v1/products")
live=$(psql_bench -c "SELECT count(*) FROM products WHERE is_active AND deleted_at IS NULL")
printf '| %-12s | %5s | %8s | %7s | %8s | %9s | %9s | %9s | %8s |\n' q chars matches "% of all" \
    "req/s" p50 p95 p99 "p95 / unfiltered"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' -------------- ------- ---------- --------- ---------- \
    ----------- ----------- ----------- ------------------
printf '| %-12s | %5s | %8s | %7s | %8s | %9s | %9s | %9s | %8s |\n' "(none)" "" "$live" "100" "" \
    "" "$(us_to_ms "$base95")" "" "1.00"
for w in $WORDS; do
    matches=$(psql_bench -c "SELECT count(*) FROM products WHERE is_active AND deleted_at IS NULL
                             AND (name || ' ' || description) ILIKE '%$w%'")
    read -r rps p50 p95 p99 _ < <(one "/api/v1/products?q=$w")
    printf '| %-12s | %5s | %8s | %7s | %8s | %9s | %9s | %9s | %8s |\n' "$w" "${#w}" "$matches" \
        "$(awk -v m="$matches" -v n="$live" 'BEGIN { printf "%.3f", 100 * m / n }')" "$rps" \
        "$(us_to_ms "$p50")" "$(us_to_ms "$p95")" "$(us_to_ms "$p99")" \
        "$(awk -v a="$p95" -v b="$base95" 'BEGIN { printf "%.2f", a / b }')"
done

echo
echo "### Other sorts, include_total, concurrency"
echo
bench_header
for q in "q=ng&sort=price" "q=q&sort=-name" "q=e&include_total=true" "q=ng&include_total=true" \
    "q=wire&include_total=true" "q=gorjor&include_total=true"; do
    BENCH_CONNECTIONS=1 BENCH_THREADS=1 bench_wrk "$q (1 connection)" "/api/v1/products?$q"
done
# The words the Django REST Framework build was measured with, at 8
# connections as it was (docs/PERFORMANCE.md).
for q in ord ng 120; do
    BENCH_CONNECTIONS=8 bench_wrk "q=$q (8 connections)" "/api/v1/products?q=$q"
done
bench_wrk "q=ng ($BENCH_CONNECTIONS connections)" "/api/v1/products?q=ng" &
busy=$!
sleep 1
BENCH_CONNECTIONS=1 BENCH_THREADS=1 BENCH_DURATION=5s bench_wrk "/readyz meanwhile (1 connection)" "/readyz"
wait "$busy"
