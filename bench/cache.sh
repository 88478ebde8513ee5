#!/usr/bin/env bash
# bench/cache.sh -- cached catalog reads against nginx serving the very
# same response bytes as static files, and against the uncached path.
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
ensure_packages nginx-light
bench_setup
"$BUILD/nexus" seed --products "$PRODUCTS" --categories 52 >&2
bench_start_server
UNCACHED_PORT=$((BENCH_PORT + 1))
NGINX_PORT=$((BENCH_PORT + 2))
REDIS_URL="" PORT=$UNCACHED_PORT "$BUILD/nexus" serve 2>"$BENCH_TMP/uncached.log" &
UNCACHED_PID=$!

mkdir -p "$BENCH_TMP/www"
chmod 755 "$BENCH_TMP/www"
cat >"$BENCH_TMP/nginx.conf" <<CONF
worker_processes $(nproc);
pid $BENCH_TMP/nginx.pid;
error_log $BENCH_TMP/nginx.err;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/json;
    client_body_temp_path $BENCH_TMP/nginx-body;
    proxy_temp_path $BENCH_TMP/nginx-proxy;
    fastcgi_temp_path $BENCH_TMP/nginx-fastcgi;
    uwsgi_temp_path $BENCH_TMP/nginx-uwsgi;
    scgi_temp_path $BENCH_TMP/nginx-scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $BENCH_TMP/www;
    }
}
CONF
nginx -c "$BENCH_TMP/nginx.conf"
trap 'nginx -c "$BENCH_TMP/nginx.conf" -s stop 2>/dev/null; kill $UNCACHED_PID 2>/dev/null; bench_teardown' EXIT INT TERM
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$UNCACHED_PORT/healthz" >/dev/null && break; sleep 0.1; done

# scenario NAME PATH: prime the cache, copy the cached bytes for nginx, then
# drive all three with wrk.
scenario() {
    local name=$1 path=$2 file
    file=$(printf '%s' "$path" | md5sum | cut -c1-16).json
    curl -sf "http://127.0.0.1:$BENCH_PORT$path" >/dev/null
    curl -sf -D "$BENCH_TMP/headers" "http://127.0.0.1:$BENCH_PORT$path" -o "$BENCH_TMP/www/$file"
    grep -qi '^X-Cache: HIT' "$BENCH_TMP/headers" || die "$path was not served from the cache"
    chmod 644 "$BENCH_TMP/www/$file"
    local cached nginx uncached
    cached=$(bench_wrk "x" "$path" | awk -F'|' '{gsub(/ /, "", $3); print $3}')
    nginx=$(BENCH_PORT=$NGINX_PORT bench_wrk "x" "/$file" | awk -F'|' '{gsub(/ /, "", $3); print $3}')
    uncached=$(BENCH_PORT=$UNCACHED_PORT bench_wrk "x" "$path" | awk -F'|' '{gsub(/ /, "", $3); print $3}')
    printf '| %-34s | %8s B | %10s | %10s | %5.2f | %10s | %6.1f |\n' "$name" \
        "$(stat -c %s "$BENCH_TMP/www/$file")" "$cached" "$nginx" \
        "$(echo "$cached / $nginx" | bc -l)" "$uncached" "$(echo "$cached / $uncached" | bc -l)"
}

echo "## Cached reads vs nginx: $PRODUCTS products ($(nproc) cores, $BENCH_CONNECTIONS connections, $BENCH_DURATION each)"
echo
printf '| %-34s | %10s | %10s | %10s | %5s | %10s | %6s |\n' scenario size "cached r/s" \
    "nginx r/s" "ratio" "uncached" "gain"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..36})" ------------ ------------ \
    ------------ ------- ------------ --------
scenario "product by id" /api/v1/products/4242
scenario "first page, default listing" /api/v1/products
scenario "filtered listing" "/api/v1/products?category=dept-1&min_price=10&max_price=200&sort=price&in_stock=true"
