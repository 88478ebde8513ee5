#!/usr/bin/env bash
# bench/auth.sh -- login throughput (bounded by argon2id by design) next to
# the raw verify rate, and the per-request cost of authentication.
#
#   bench/auth.sh            # defaults: 10 s per scenario, 32 connections
#   BENCH_DURATION=30s bench/auth.sh
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

bench_setup
cmake --build "$BUILD" --target bench_auth >/dev/null
bench_start_server

api=http://127.0.0.1:$BENCH_PORT/api/v1
curl -sf "$api/auth/register" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"bench-password","name":"Bench"}' >/dev/null
token=$(curl -sf "$api/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"bench-password"}' |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/')

cat >"$BENCH_TMP/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"bench@example.com","password":"bench-password"}'
LUA

echo "## Authentication ($(nproc) cores, $BENCH_CONNECTIONS connections, $BENCH_DURATION each)"
echo
"$BUILD/bench_auth" "$(nproc)" 5 | sed 's/^/    /'
echo
bench_header
bench_wrk "POST /auth/login (argon2id verify)" /api/v1/auth/login "$BENCH_TMP/login.lua"
bench_wrk "GET /healthz (no auth, no database)" /healthz
# /healthz while 28 logins at once keep every hashing thread busy: the
# hashes run on threads of their own, so the server threads answer at
# once (2 connections of its own; one address may hold 32).
burst_seconds=${BENCH_DURATION%s}
BENCH_CONNECTIONS=28 BENCH_DURATION=$((burst_seconds + 2))s \
    bench_wrk_values /api/v1/auth/login "$BENCH_TMP/login.lua" >/dev/null &
burst=$!
sleep 1
BENCH_CONNECTIONS=2 bench_wrk "GET /healthz during 28 logins at once" /healthz
wait "$burst"
bench_wrk "GET /readyz (no auth, one query)" /readyz
printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$token" >"$BENCH_TMP/auth.lua"
bench_wrk "GET /users/me (JWT + user check + read)" /api/v1/users/me "$BENCH_TMP/auth.lua"
