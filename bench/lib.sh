# Shared by the benchmark runners: a release build, private PostgreSQL and
# Redis in a temporary directory, a running nexus, and wrk helpers.
# Source it after scripts/lib/common.sh and services.sh.

BENCH_PORT=${BENCH_PORT:-18180}
BENCH_DURATION=${BENCH_DURATION:-10s}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-32}
BENCH_THREADS=${BENCH_THREADS:-2}
BUILD=$NEXUS_ROOT/build/bench

bench_setup() {
    ensure_packages $NEXUS_BUILD_PACKAGES $NEXUS_SERVICE_PACKAGES wrk
    cmake_build "$BUILD" Release -DNEXUS_TESTS=OFF
    BENCH_TMP=$(mktemp -d /tmp/nexus-bench.XXXXXX)
    chmod 755 "$BENCH_TMP"
    trap bench_teardown EXIT INT TERM
    pg_start "$BENCH_TMP/pg" "$BENCH_TMP/sock" "$BENCH_TMP/pg.log" \
        "-c shared_buffers=512MB ${BENCH_PG_OPTIONS:-}"
    redis_start "$BENCH_TMP/redis"
    export DATABASE_URL="host=$BENCH_TMP/sock user=postgres dbname=postgres"
    export REDIS_URL="unix://$BENCH_TMP/redis/redis.sock"
    export JWT_SECRET=benchmark-secret-0123456789abcdef0123 PORT=$BENCH_PORT AUTO_MIGRATE=1
    export LOG_LEVEL=warn LOGIN_MAX_FAILURES_PER_EMAIL=100000 LOGIN_MAX_FAILURES_PER_CLIENT=1000000
    export PER_IP_CONNECTION_LIMIT=100000 # every benchmark connection comes from loopback
}

# bench_port_free PORT: die when something answers there already (another
# benchmark's server would be measured in place of this one).
bench_port_free() {
    ! curl -s -o /dev/null "http://127.0.0.1:$1/healthz" ||
        die "port $1 is in use: set BENCH_PORT to a free one"
}

bench_start_server() {
    bench_port_free "$BENCH_PORT"
    "$BUILD/nexus" serve 2>"$BENCH_TMP/nexus.log" &
    BENCH_PID=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$BENCH_PORT/healthz" >/dev/null && return 0
        sleep 0.1
    done
    die "nexus did not start: see $BENCH_TMP/nexus.log"
}

# bench_start_uncached: a second server on BENCH_PORT + 1 (UNCACHED_PORT)
# without Redis, so every read goes to PostgreSQL; stopped at exit.
bench_start_uncached() {
    UNCACHED_PORT=$((BENCH_PORT + 1))
    bench_port_free "$UNCACHED_PORT"
    REDIS_URL="" PORT=$UNCACHED_PORT "$BUILD/nexus" serve 2>"$BENCH_TMP/uncached.log" &
    UNCACHED_PID=$!
    trap 'kill $UNCACHED_PID 2>/dev/null; bench_teardown' EXIT INT TERM
    for _ in $(seq 50); do
        curl -sf "http://127.0.0.1:$UNCACHED_PORT/healthz" >/dev/null && return 0
        sleep 0.1
    done
    die "the uncached nexus did not start: see $BENCH_TMP/uncached.log"
}

# bench_staff_token: a staff user, logged in; its access token on stdout.
bench_staff_token() {
    local pw=bench-staff-password token
    BENCH_PW=$pw "$BUILD/nexus" user create --email bench-staff@example.com --role staff \
        --password-env BENCH_PW >/dev/null
    token=$(curl -sf "http://127.0.0.1:$BENCH_PORT/api/v1/auth/login" \
        -H 'Content-Type: application/json' \
        -d "{\"email\":\"bench-staff@example.com\",\"password\":\"$pw\"}" |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    [ -n "$token" ] || die "staff login failed"
    echo "$token"
}

bench_teardown() {
    trap - EXIT INT TERM
    [ -n "${BENCH_PID:-}" ] && kill -TERM "$BENCH_PID" 2>/dev/null && wait "$BENCH_PID" 2>/dev/null
    redis_stop "$BENCH_TMP/redis"
    pg_stop "$BENCH_TMP/pg"
    rm -rf "$BENCH_TMP"
}

# Percentiles from wrk's own histogram, printed after its report.
BENCH_REPORT_LUA='
done = function(summary, latency, requests)
  io.write(string.format("PCT %.0f %.0f %.0f\n", latency:percentile(50),
    latency:percentile(95), latency:percentile(99)))
end'

us_to_ms() { awk -v us="$1" 'BEGIN { printf "%.2fms", us / 1000 }'; }

# bench_wrk_values PATH [LUA_FILE]: one wrk run; prints
# "req/s p50 p95 p99 non-2xx", the percentiles in microseconds.
bench_wrk_values() {
    local path=$1 script=$BENCH_TMP/wrk-$RANDOM.lua
    { [ -n "${2:-}" ] && cat "$2"; printf '%s\n' "$BENCH_REPORT_LUA"; } >"$script"
    local out
    out=$(wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"$BENCH_DURATION" -s "$script" \
        "http://127.0.0.1:$BENCH_PORT$path")
    local rps non2xx pct
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    pct=$(awk '$1 == "PCT" {print $2, $3, $4}' <<<"$out")
    echo "$rps $pct ${non2xx:-0}"
}

# bench_wrk NAME PATH [LUA_FILE]: one scenario, one result line.
bench_wrk() {
    local name=$1 rps p50 p95 p99 non2xx
    read -r rps p50 p95 p99 non2xx < <(bench_wrk_values "$2" "${3:-}")
    printf '| %-40s | %10s | %9s | %9s | %9s | %6s |\n' "$name" "$rps" "$(us_to_ms "$p50")" \
        "$(us_to_ms "$p95")" "$(us_to_ms "$p99")" "$non2xx"
}

# bench_median VALUE...: the median of the values (words; the middle one,
# the lower of the two middle ones for an even count).
# shellcheck disable=SC2048,SC2086 # the values, one word each
bench_median() { printf '%s\n' $* | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

bench_header() {
    printf '| %-40s | %10s | %9s | %9s | %9s | %6s |\n' scenario "req/s" p50 p95 p99 non-2xx
    printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..42})" "------------" \
        "-----------" "-----------" "-----------" "--------"
}

# bench_nginx_start PORT: nginx (nginx-light, one worker per core) serving
# the files of $BENCH_TMP/www on PORT, as a static file server would;
# bench_nginx_stop stops it.
bench_nginx_start() {
    ensure_packages nginx-light
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
        listen 127.0.0.1:$1;
        root $BENCH_TMP/www;
    }
}
CONF
    nginx -c "$BENCH_TMP/nginx.conf"
}

bench_nginx_stop() {
    [ -f "$BENCH_TMP/nginx.conf" ] && nginx -c "$BENCH_TMP/nginx.conf" -s stop 2>/dev/null || true
}

# bench_uncached_catalog PRODUCTS: seed a catalog of PRODUCTS products in 52
# categories and start nexus without Redis: every read goes to PostgreSQL.
bench_uncached_catalog() {
    unset REDIS_URL
    "$BUILD/nexus" seed --products "$1" --categories 52 >&2
    bench_start_server
}

psql_bench() { psql -h "$BENCH_TMP/sock" -U postgres -d postgres -XAtq "$@"; }

# bench_by_id_lua MAX_ID: a wrk script asking for products by random ids
# in 1..MAX_ID, the same sequence on every run.
# A realistic search: a brand and a kind of product, from the catalog's
# first product from id 4242 on whose two words are ASCII letters (wrk
# takes the URL as it is), joined by %20.
BENCH_SEARCH_SQL="SELECT w1 || '%20' || w4 FROM (SELECT id,
                  lower(split_part(name, ' ', 1)) AS w1,
                  lower(split_part(name, ' ', 4)) AS w4 FROM products) p
                  WHERE id >= 4242 AND w1 || w4 ~ '^[a-z]+\$' ORDER BY id LIMIT 1"

bench_by_id_lua() {
    cat <<LUA
math.randomseed(42)
request = function()
  return wrk.format("GET", "/api/v1/products/" .. math.random(1, $1))
end
LUA
}

# bench_cursor_at URL ROWS: the next_cursor after ROWS rows of the list at
# URL (which has a query string), walked 100 rows a page.
bench_cursor_at() {
    local cursor=""
    for _ in $(seq $(($2 / 100))); do
        cursor=$(curl -sf "$1&limit=100${cursor:+&cursor=$cursor}" |
            sed -n 's/.*"next_cursor":"\([^"]*\)".*/\1/p')
    done
    echo "$cursor"
}
