#!/usr/bin/env bash
# bench/jobs.sh -- the background job queue.
#
#   bench/jobs.sh                                  # 20,000 jobs, 2,000 writes
#   BENCH_JOBS=100000 BENCH_WRITES=5000 BENCH_ROUNDS=5 bench/jobs.sh
#
# 1. Throughput: BENCH_JOBS `noop` jobs are inserted with one SQL statement
#    while one (then two) idle workers wait; the time runs from the INSERT
#    until every job is done.
# 2. Enqueue cost on the write path: BENCH_WRITES sequential staff PATCHes
#    of one product's stock over one connection, alternating 10 <-> 3 (every
#    other write crosses LOW_STOCK_THRESHOLD=5 and enqueues a
#    low_stock_alert in its transaction) against 10 <-> 9 (never crosses).
#    No worker runs meanwhile. The two alternate for BENCH_ROUNDS rounds;
#    twice the difference of the median mean latencies is the cost of one
#    enqueue.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

JOBS=${BENCH_JOBS:-20000}
WRITES=${BENCH_WRITES:-2000}
ROUNDS=${BENCH_ROUNDS:-3}
WORKER_PIDS=()

bench_setup
jobs_teardown() {
    local pid
    for pid in "${WORKER_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    WORKER_PIDS=()
    bench_teardown
}
trap jobs_teardown EXIT INT TERM

export LOW_STOCK_THRESHOLD=5 JOB_POLL_MS=1000 MAIL_DIR="$BENCH_TMP/mail"
bench_start_server
psql_bench() { psql -h "$BENCH_TMP/sock" -U postgres -d postgres -XAtq "$@"; }
now() { date +%s.%N; }

start_workers() {
    local i
    for i in $(seq "$1"); do
        "$BUILD/nexus" worker 2>>"$BENCH_TMP/worker.log" &
        WORKER_PIDS+=($!)
    done
    # idle: each has looked for work once and sleeps on LISTEN
    for _ in $(seq 300); do
        [ "$(psql_bench -c "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle'
                            AND query LIKE 'UPDATE jobs SET state = ''running''%'")" -ge "$1" ] &&
            return 0
        sleep 0.1
    done
    die "workers did not start: see $BENCH_TMP/worker.log"
}

stop_workers() {
    local pid
    for pid in "${WORKER_PIDS[@]}"; do
        kill -TERM "$pid"
        wait "$pid" || die "a worker exited non-zero: see $BENCH_TMP/worker.log"
    done
    WORKER_PIDS=()
}

# throughput WORKERS: one result line.
throughput() {
    local workers=$1 t0 t1 done_count
    psql_bench -c "TRUNCATE jobs"
    start_workers "$workers"
    t0=$(now)
    psql_bench -c "INSERT INTO jobs (kind) SELECT 'noop' FROM generate_series(1, $JOBS)"
    for _ in $(seq 6000); do # 10 minutes at most
        done_count=$(psql_bench -c "SELECT count(*) FROM jobs WHERE state = 'done'")
        [ "$done_count" -ge "$JOBS" ] && break
        sleep 0.05
    done
    t1=$(now)
    stop_workers
    [ "$done_count" -ge "$JOBS" ] || die "only $done_count of $JOBS jobs done"
    local twice
    twice=$(psql_bench -c "SELECT count(*) FROM jobs WHERE attempts <> 1 OR state <> 'done'")
    printf '| %-40s | %10s | %9s | %9s |\n' "$workers worker(s), noop" "$JOBS" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2fs", b - a }')" \
        "$(awk -v a="$t0" -v b="$t1" -v n="$JOBS" 'BEGIN { printf "%.0f", n / (b - a) }')"
    [ "$twice" -eq 0 ] || die "$twice jobs were not run exactly once"
}

echo "## Job queue ($(nproc) cores)"
echo
echo "### Throughput: $JOBS noop jobs"
echo
printf '| %-40s | %10s | %9s | %9s |\n' scenario jobs time "jobs/s"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..42})" "------------" "-----------" "-----------"
throughput 1
throughput 2
psql_bench -c "TRUNCATE jobs"
echo
echo "PostgreSQL runs with fsync on: each claim and each completion is a commit of its own."

# ---- enqueue cost -----------------------------------------------------------

api=http://127.0.0.1:$BENCH_PORT/api/v1
token=$(bench_staff_token)
curl -sf "$api/products" -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
    -d '{"sku":"BENCH-LOW-1","name":"Bench Lamp","price":"10","stock":10}' >/dev/null
product=$(psql_bench -c "SELECT id FROM products WHERE sku = 'BENCH-LOW-1'")
[ -n "$product" ] || die "cannot create the product"

set_stock() {
    curl -sf -X PATCH "$api/products/$product" -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $token" -d "{\"stock\":$1}" >/dev/null
}

# patches NAME HIGH LOW: WRITES sequential PATCHes HIGH -> LOW -> HIGH ...
patches() {
    local name=$1 high=$2 low=$3 script=$BENCH_TMP/patch-$RANDOM.lua before after out
    set_stock "$high"
    cat >"$script" <<LUA
local sent, answered, limit = 0, 0, $WRITES
local headers = {["Authorization"] = "Bearer $token", ["Content-Type"] = "application/json"}
request = function()
  sent = sent + 1
  local stock = (sent % 2 == 1) and $low or $high
  return wrk.format("PATCH", "/api/v1/products/$product", headers, '{"stock":' .. stock .. '}')
end
response = function(status, hdrs, body)
  answered = answered + 1
  if answered == limit then
    io.open("$BENCH_TMP/patches.done", "w"):close()
    wrk.thread:stop()
  end
end
done = function(summary, latency, requests)
  io.write(string.format("PCT %.0f %.0f %.0f %.1f %d\n", latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.mean, summary.requests))
end
LUA
    before=$(psql_bench -c "SELECT count(*) FROM jobs WHERE kind = 'low_stock_alert'")
    # wrk runs for a duration: stop it (SIGINT: it reports and exits) once
    # the script has seen its last answer.
    rm -f "$BENCH_TMP/patches.done"
    wrk -t1 -c1 -d600s -s "$script" "http://127.0.0.1:$BENCH_PORT/" >"$BENCH_TMP/wrk.out" &
    local wrk_pid=$!
    for _ in $(seq 60000); do
        [ -e "$BENCH_TMP/patches.done" ] && break
        kill -0 "$wrk_pid" 2>/dev/null || break
        sleep 0.01
    done
    kill -INT "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" || true
    out=$(cat "$BENCH_TMP/wrk.out")
    after=$(psql_bench -c "SELECT count(*) FROM jobs WHERE kind = 'low_stock_alert'")
    local rps non2xx p50 p95 p99 mean count
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    read -r p50 p95 p99 mean count < <(awk '$1 == "PCT" {print $2, $3, $4, $5, $6}' <<<"$out")
    printf '| %-40s | %8s | %8s | %10s | %9s | %9s | %9s | %9s | %6s |\n' "$name" "$count" \
        "$((after - before))" "$rps" "$(us_to_ms "$p50")" "$(us_to_ms "$p95")" \
        "$(us_to_ms "$p99")" "$(us_to_ms "$mean")" "${non2xx:-0}"
    if [ "$4" = cross ]; then CROSS_MEANS+=" $mean"; else PLAIN_MEANS+=" $mean"; fi
}

echo
echo "### Enqueue cost: $WRITES sequential staff PATCHes of stock, 1 connection, no worker"
echo
printf '| %-40s | %8s | %8s | %10s | %9s | %9s | %9s | %9s | %6s |\n' scenario requests \
    enqueued "req/s" p50 p95 p99 mean non-2xx
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..42})" "----------" \
    "----------" "------------" "-----------" "-----------" "-----------" "-----------" "--------"
PLAIN_MEANS="" CROSS_MEANS=""
for round in $(seq "$ROUNDS"); do # interleaved, so drifting load hits both alike
    patches "round $round: 10<->9, never crosses" 10 9 plain
    patches "round $round: 10<->3, every 2nd enqueues" 10 3 cross
done
echo
awk -v plain="$PLAIN_MEANS" -v cross="$CROSS_MEANS" '
    function median(text, a, n, i, j, t) {
        n = split(text, a, " ")
        for (i = 1; i <= n; i++)
            for (j = i + 1; j <= n; j++)
                if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    BEGIN {
        p = median(plain); c = median(cross)
        printf "Mean write latency, median over the rounds: %.3f ms with no enqueue, %.3f ms when every second write enqueues.\n", p / 1000, c / 1000
        printf "Added by one enqueue (INSERT + NOTIFY at commit): %.3f ms.\n", 2 * (c - p) / 1000 }'
