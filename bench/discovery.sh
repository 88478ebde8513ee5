#!/usr/bin/env bash
# bench/discovery.sh -- attribute and option filters and facets.
#
#   bench/discovery.sh                        # 100,000 products
#   BENCH_PRODUCTS=1000000 bench/discovery.sh # 1,000,000 products
#
# Seeds a private database (then VACUUM ANALYZE, the state autovacuum
# leaves a bulk load in), starts nexus without Redis (every read goes to
# PostgreSQL) and measures with wrk at 1 connection: the first page of the
# default list unfiltered (the reference), with one attr.* filter, and
# with two option.* filters plus in_stock=true; facets over the whole
# catalog and over one top-level category, each against pgbench running
# SELECT count(*) over the same set at 1 connection (the floor: facets
# read the set at least once), p50 against p50. Then, with Redis, cached
# facets against nginx serving the very same bytes as a static file, at
# CACHED_CONNECTIONS connections.
#
# BENCH_PLANS=FILE also writes to FILE the plans of every statement of
# one uncached request of each scenario, as executed (EXPLAIN ANALYZE
# through auto_explain, without timing), after the measurements.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-100000}
bench_setup
cached_redis=$REDIS_URL
unset REDIS_URL
"$BUILD/nexus" seed --products "$PRODUCTS" >&2
psql_bench() { psql -h "$BENCH_TMP/sock" -U postgres -d postgres -XAtq "$@"; }
psql_bench -c "VACUUM ANALYZE"
bench_start_server

# A brand of the catalog (about 1 product in 1,600).
brand=$(psql_bench -c "SELECT attributes->>'brand' FROM products WHERE id = 4242")
one="attr.brand=$brand"
two="option.Size=M&option.Color=Red&in_stock=true"
dept="category=dept-1"
buckets="price_buckets=0,50,100,500"

cat >"$BENCH_TMP/count_all.sql" <<SQL
SELECT count(*) FROM products p WHERE p.deleted_at IS NULL AND p.is_active;
SQL
cat >"$BENCH_TMP/count_dept.sql" <<SQL
SELECT count(*) FROM products p WHERE p.deleted_at IS NULL AND p.is_active AND p.category_id IN (WITH RECURSIVE t AS (SELECT id FROM categories WHERE slug = 'dept-1' UNION ALL SELECT c.id FROM categories c JOIN t ON c.parent_id = t.id) SELECT id FROM t);
SQL

# pgbench_p50 FILE: the median latency of FILE's statement (µs), one
# connection for BENCH_DURATION, from pgbench's log of every transaction.
pgbench_p50() {
    local log=$BENCH_TMP/pgbench-$RANDOM
    (cd "$BENCH_TMP" && "$PG_BIN/pgbench" -h "$BENCH_TMP/sock" -U postgres -n -c 1 -j 1 \
        -T "${BENCH_DURATION%s}" -l --log-prefix="$log" -f "$1" postgres >/dev/null 2>&1)
    cat "$log".* | awk '{print $3}' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

# facets_vs_count NAME PATH SQL_FILE: facets p50 (wrk) against count(*) p50.
facets_vs_count() {
    local rps p50 p95 p99 non2xx count
    read -r rps p50 p95 p99 non2xx < <(bench_wrk_values "$2")
    count=$(pgbench_p50 "$3")
    printf '| %-30s | %9s | %9s | %6s | %12s | %6.1f |\n' "$1" "$rps" "$(us_to_ms "$p50")" \
        "$non2xx" "$(us_to_ms "$count")" "$(echo "$p50 / $count" | bc -l)"
}

echo "## Discovery, uncached: $PRODUCTS products ($(nproc) cores, 1 connection, $BENCH_DURATION each)"
echo
bench_header
export BENCH_CONNECTIONS=1 BENCH_THREADS=1
# page NAME PATH: bench_wrk's line, plus the p95 against the unfiltered
# page's (ref_p95, the first page measured).
ratios=""
page() {
    local rps p50 p95 p99 non2xx
    read -r rps p50 p95 p99 non2xx < <(bench_wrk_values "$2")
    printf '| %-40s | %10s | %9s | %9s | %9s | %6s |\n' "$1" "$rps" "$(us_to_ms "$p50")" \
        "$(us_to_ms "$p95")" "$(us_to_ms "$p99")" "$non2xx"
    if [ -z "${ref_p95:-}" ]; then
        ref_p95=$p95
    else
        ratios+=$(printf -- '- p95 of "%s" / p95 unfiltered: %.2f (target at most 2)' "$1" \
            "$(echo "$p95 / $ref_p95" | bc -l)")$'\n'
    fi
}
page "first page, unfiltered" "/api/v1/products"
page "first page, $one" "/api/v1/products?$one"
page "first page, $two" "/api/v1/products?$two"
echo
printf '%s' "$ratios"
echo
printf '| %-30s | %9s | %9s | %6s | %12s | %6s |\n' "facets, uncached" "req/s" p50 non-2xx \
    "count(*) p50" ratio
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..32})" ----------- ----------- -------- \
    -------------- --------
facets_vs_count "whole catalog" "/api/v1/products/facets?$buckets" "$BENCH_TMP/count_all.sql"
facets_vs_count "$dept" "/api/v1/products/facets?$dept&$buckets" "$BENCH_TMP/count_dept.sql"
echo
echo "(facets targets: ratio at most 5)"

# The plans, as executed by the server (auto_explain on its connections,
# which it opens anew once restarted), one request of each scenario.
if [ -n "${BENCH_PLANS:-}" ]; then
    kill -TERM "$BENCH_PID" && wait "$BENCH_PID" 2>/dev/null || true
    psql_bench -c "LOAD 'auto_explain'" \
        -c "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'" \
        -c "ALTER SYSTEM SET auto_explain.log_min_duration = 0" \
        -c "ALTER SYSTEM SET auto_explain.log_analyze = on" \
        -c "ALTER SYSTEM SET auto_explain.log_timing = off" -c "SELECT pg_reload_conf()" >/dev/null
    bench_start_server
    for path in "/api/v1/products" "/api/v1/products?$one" "/api/v1/products?$two" \
        "/api/v1/products/facets?$buckets" "/api/v1/products/facets?$dept&$buckets"; do
        echo "==== GET $path" >>"$BENCH_TMP/plans"
        mark=$(stat -c %s "$BENCH_TMP/pg.log")
        curl -sf "http://127.0.0.1:$BENCH_PORT$path" >/dev/null
        tail -c +$((mark + 1)) "$BENCH_TMP/pg.log" >>"$BENCH_TMP/plans"
    done
    cp "$BENCH_TMP/plans" "$BENCH_PLANS"
    psql_bench -c "ALTER SYSTEM RESET ALL" -c "SELECT pg_reload_conf()" >/dev/null
fi

# Cached facets: the same bytes from the cache and from nginx.
kill -TERM "$BENCH_PID" && wait "$BENCH_PID" 2>/dev/null || true
export REDIS_URL=$cached_redis BENCH_CONNECTIONS=${CACHED_CONNECTIONS:-32} BENCH_THREADS=2
bench_start_server
NGINX_PORT=$((BENCH_PORT + 2))
bench_nginx_start "$NGINX_PORT"
trap 'bench_nginx_stop; bench_teardown' EXIT INT TERM

# cached_vs_nginx NAME PATH: prime the cache, copy its bytes for nginx,
# drive both.
cached_vs_nginx() {
    local file cached nginx
    file=$(printf '%s' "$2" | md5sum | cut -c1-16).json
    curl -sf "http://127.0.0.1:$BENCH_PORT$2" >/dev/null
    curl -sf -D "$BENCH_TMP/headers" "http://127.0.0.1:$BENCH_PORT$2" -o "$BENCH_TMP/www/$file"
    grep -qi '^X-Cache: HIT' "$BENCH_TMP/headers" || die "$2 was not served from the cache"
    chmod 644 "$BENCH_TMP/www/$file"
    read -r cached _ < <(bench_wrk_values "$2")
    read -r nginx _ < <(BENCH_PORT=$NGINX_PORT bench_wrk_values "/$file")
    printf '| %-30s | %7s B | %10s | %10s | %5.2f |\n' "$1" "$(stat -c %s "$BENCH_TMP/www/$file")" \
        "$cached" "$nginx" "$(echo "$cached / $nginx" | bc -l)"
}

echo
echo "## Facets, cached: $BENCH_CONNECTIONS connections, $BENCH_DURATION each"
echo
printf '| %-30s | %9s | %10s | %10s | %5s |\n' scenario size "cached" "nginx" ratio
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..32})" ----------- ------------ ------------ \
    -------
cached_vs_nginx "whole catalog" "/api/v1/products/facets?$buckets"
cached_vs_nginx "$dept" "/api/v1/products/facets?$dept&$buckets"
