#!/usr/bin/env bash
# bench/cache.sh -- cached catalog reads against nginx serving the very
# same response bytes as static files, against the same server with its
# in-process tier off (every read asks Redis), and against the uncached
# path. Also counts the Redis commands each cached read costs.
#
#   bench/cache.sh                     # 100,000 products
#   BENCH_PRODUCTS=1000000 bench/cache.sh
#
# Same machine, same loopback, same wrk settings for all three.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-100000}
bench_setup
"$BUILD/nexus" seed --products "$PRODUCTS" --categories 52 >&2
bench_start_server
UNCACHED_PORT=$((BENCH_PORT + 1))
NGINX_PORT=$((BENCH_PORT + 2))
REDIS_ONLY_PORT=$((BENCH_PORT + 3))
REDIS_URL="" PORT=$UNCACHED_PORT "$BUILD/nexus" serve 2>"$BENCH_TMP/uncached.log" &
UNCACHED_PID=$!
CACHE_LOCAL_MIB=0 PORT=$REDIS_ONLY_PORT "$BUILD/nexus" serve 2>"$BENCH_TMP/redis-only.log" &
REDIS_ONLY_PID=$!

bench_nginx_start "$NGINX_PORT"
trap 'bench_nginx_stop; kill $UNCACHED_PID $REDIS_ONLY_PID 2>/dev/null; bench_teardown' EXIT INT TERM
for port in $UNCACHED_PORT $REDIS_ONLY_PORT; do
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
done

redis_commands() {
    redis-cli -s "$BENCH_TMP/redis/redis.sock" info stats |
        awk -F: '/^total_commands_processed/ {print $2 + 0}'
}

cache_hits() {
    curl -sf "http://127.0.0.1:$BENCH_PORT/metrics" | awk '$1 == "nexus_cache_hits_total" {print $2}'
}

rps_of() { awk -F'|' '{gsub(/ /, "", $3); print $3}'; }

# scenario NAME PATH: prime the cache, copy the cached bytes for nginx, then
# drive all four with wrk.
scenario() {
    local name=$1 path=$2 file
    file=$(printf '%s' "$path" | md5sum | cut -c1-16).json
    for port in $BENCH_PORT $REDIS_ONLY_PORT; do
        curl -sf "http://127.0.0.1:$port$path" >/dev/null
        curl -sf -D "$BENCH_TMP/headers" "http://127.0.0.1:$port$path" -o "$BENCH_TMP/www/$file"
        grep -qi '^X-Cache: HIT' "$BENCH_TMP/headers" || die "$path was not served from the cache"
    done
    chmod 644 "$BENCH_TMP/www/$file"
    local cached redis_only nginx uncached commands hits
    commands=$(redis_commands)
    hits=$(cache_hits)
    cached=$(bench_wrk "x" "$path" | rps_of)
    commands=$(($(redis_commands) - commands - 1)) # less the INFO itself
    hits=$(($(cache_hits) - hits))
    redis_only=$(BENCH_PORT=$REDIS_ONLY_PORT bench_wrk "x" "$path" | rps_of)
    nginx=$(BENCH_PORT=$NGINX_PORT bench_wrk "x" "/$file" | rps_of)
    uncached=$(BENCH_PORT=$UNCACHED_PORT bench_wrk "x" "$path" | rps_of)
    printf '| %-28s | %6s B | %9s | %6.4f | %9s | %9s | %5.2f | %9s | %5.1f |\n' "$name" \
        "$(stat -c %s "$BENCH_TMP/www/$file")" "$cached" "$(echo "$commands / $hits" | bc -l)" \
        "$redis_only" "$nginx" "$(echo "$cached / $nginx" | bc -l)" "$uncached" \
        "$(echo "$cached / $uncached" | bc -l)"
}

echo "## Cached reads vs nginx: $PRODUCTS products ($(nproc) cores, $BENCH_CONNECTIONS connections, $BENCH_DURATION each)"
echo
printf '| %-28s | %8s | %9s | %6s | %9s | %9s | %5s | %9s | %5s |\n' scenario size "cached" \
    "Redis cmds/read" "Redis only" "nginx" "ratio" "uncached" "gain"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..30})" ---------- ----------- \
    -------- ----------- ----------- ------- ----------- -------
scenario "product by id" /api/v1/products/4242
scenario "first page, default listing" /api/v1/products
scenario "filtered listing" "/api/v1/products?category=dept-1&min_price=10&max_price=200&sort=price&in_stock=true"
