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
}

bench_start_server() {
    "$BUILD/nexus" serve 2>"$BENCH_TMP/nexus.log" &
    BENCH_PID=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$BENCH_PORT/healthz" >/dev/null && return 0
        sleep 0.1
    done
    die "nexus did not start: see $BENCH_TMP/nexus.log"
}

bench_teardown() {
    trap - EXIT INT TERM
    [ -n "${BENCH_PID:-}" ] && kill -TERM "$BENCH_PID" 2>/dev/null && wait "$BENCH_PID" 2>/dev/null
    redis_stop "$BENCH_TMP/redis"
    pg_stop "$BENCH_TMP/pg"
    rm -rf "$BENCH_TMP"
}

# bench_wrk NAME PATH [wrk args...]: one scenario, one result line.
bench_wrk() {
    local name=$1 path=$2
    shift 2
    local out
    out=$(wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"$BENCH_DURATION" --latency "$@" \
        "http://127.0.0.1:$BENCH_PORT$path")
    local rps p50 p99 non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    printf '| %-40s | %10s | %8s | %8s | %6s |\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

bench_header() {
    printf '| %-40s | %10s | %8s | %8s | %6s |\n' scenario "req/s" p50 p99 non-2xx
    printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..42})" "------------" "----------" \
        "----------" "--------"
}
