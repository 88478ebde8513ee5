#!/usr/bin/env bash
# bench/ab.sh -- the v1 read scenarios on two commits, A against B, in one
# run on the same machine.
#
#   bench/ab.sh                              # A: the commit before variants, B: HEAD
#   AB_A=<commit> AB_B=<commit> BENCH_PRODUCTS=50000 bench/ab.sh
#
# Builds each commit (release) in a temporary worktree and serves both from
# one PostgreSQL. By default both sides serve the same v1 catalog, so that
# the difference is the code and not the content: A's database is seeded
# with A's `nexus seed`, B's database is a copy of it (CREATE DATABASE ...
# TEMPLATE) migrated with B's `nexus migrate`, which moves every product
# onto a default variant, as a deployment upgrading a v1 catalog would.
# Both are then compacted and analyzed (VACUUM FULL): B's migrations
# rewrite every product row, which leaves its table and every index on it
# about twice the size of A's, and a plain VACUUM frees that space without
# giving it back, so B would be measured on a bloated copy of the same
# rows (docs/OPERATIONS.md advises the same after upgrading a large
# catalog). AB_COMPACT=0 vacuums without compacting, as the database is
# right after the upgrade. v1 clients reading that catalog get the same
# answers from both, apart from the fields B adds.
#   AB_SEED=each bench/ab.sh   # each side seeded by its own `nexus seed`
# seeds B's database with B's seed instead (variants, attributes, images:
# a larger catalog), which compares content as much as code.
#   AB_BUILDS=/some/dir bench/ab.sh          # builds kept there and reused
#   AB_BUILDS=/some/dir AB_BUILD_ONLY=1 bench/ab.sh   # build, then stop
# keeps each commit's worktree and build in AB_BUILDS (by commit), so that
# a run can be measured without compiling beside it (build first, then
# measure).
# Two servers per commit: one with its own Redis (cached) and one without
# (uncached). Each scenario is driven with wrk for BENCH_DURATION (5s), A
# and B alternating (A first in odd rounds, B first in even ones) for
# AB_ROUNDS (3) rounds; the table gives each side's median req/s, B/A, and
# the median of the rounds' own B/A (A and B measured back to back).
set -euo pipefail
BENCH_DURATION=${BENCH_DURATION:-5s}
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-100000}
ROUNDS=${AB_ROUNDS:-3}
HOT_IDS=${AB_HOT_IDS:-1000} # cached by id: random ids among the first ones
SEED=${AB_SEED:-same}
COMPACT=${AB_COMPACT:-1}
case $COMPACT in 0 | 1) ;; *) die "AB_COMPACT is 1 (default) or 0" ;; esac
case $SEED in same | each) ;; *) die "AB_SEED is 'same' (default) or 'each'" ;; esac
first_variants=$(git -C "$NEXUS_ROOT" log --diff-filter=A --format=%H -- migrations/0010_variants.sql |
    tail -1)
A=$(git -C "$NEXUS_ROOT" rev-parse "${AB_A:-$first_variants^}")
B=$(git -C "$NEXUS_ROOT" rev-parse "${AB_B:-HEAD}")

ensure_packages $NEXUS_BUILD_PACKAGES $NEXUS_SERVICE_PACKAGES wrk bc
AB_TMP=$(mktemp -d /tmp/nexus-ab.XXXXXX)
chmod 755 "$AB_TMP"
BENCH_TMP=$AB_TMP # bench_wrk_values writes its scripts there
declare -A PIDS=()
ab_teardown() {
    trap - EXIT INT TERM
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    redis_stop "$AB_TMP/redis-a" || true
    redis_stop "$AB_TMP/redis-b" || true
    pg_stop "$AB_TMP/pg" || true
    git -C "$NEXUS_ROOT" worktree remove --force "$AB_TMP/src-a" 2>/dev/null || true
    git -C "$NEXUS_ROOT" worktree remove --force "$AB_TMP/src-b" 2>/dev/null || true
    rm -rf "$AB_TMP"
}
trap ab_teardown EXIT INT TERM

declare -A COMMIT=([a]=$A [b]=$B) SRC=()
for side in a b; do
    SRC[$side]=$AB_TMP/src-$side
    [ -n "${AB_BUILDS:-}" ] && SRC[$side]=$AB_BUILDS/${COMMIT[$side]}
    [ -d "${SRC[$side]}" ] ||
        git -C "$NEXUS_ROOT" worktree add --detach "${SRC[$side]}" "${COMMIT[$side]}" >&2
    cmake -S "${SRC[$side]}" -B "${SRC[$side]}/build" -DCMAKE_BUILD_TYPE=Release \
        -DNEXUS_TESTS=OFF >/dev/null || die "cmake configure failed ($side)"
    cmake --build "${SRC[$side]}/build" -j"$(nproc)" --target nexus >&2 ||
        die "build failed ($side)"
done
[ -n "${AB_BUILD_ONLY:-}" ] && exit 0

pg_start "$AB_TMP/pg" "$AB_TMP/sock" "$AB_TMP/pg.log" "-c shared_buffers=512MB ${BENCH_PG_OPTIONS:-}"
redis_start "$AB_TMP/redis-a"
redis_start "$AB_TMP/redis-b"
export JWT_SECRET=benchmark-secret-0123456789abcdef0123 AUTO_MIGRATE=1 LOG_LEVEL=warn
export PER_IP_CONNECTION_LIMIT=100000 # every benchmark connection comes from loopback
unset REDIS_URL DATABASE_URL PORT
psql_side() { psql -h "$AB_TMP/sock" -U postgres -d "nexus_$1" -XAtq -c "$2"; }

declare -A PORT=([a-cached]=$((BENCH_PORT + 10)) [a-uncached]=$((BENCH_PORT + 11))
    [b-cached]=$((BENCH_PORT + 12)) [b-uncached]=$((BENCH_PORT + 13)))
start_server() { # SIDE MODE
    local side=$1 mode=$2 redis=""
    [ "$mode" = cached ] && redis="unix://$AB_TMP/redis-$side/redis.sock"
    DATABASE_URL="host=$AB_TMP/sock user=postgres dbname=nexus_$side" REDIS_URL=$redis \
        PORT=${PORT[$side-$mode]} "${SRC[$side]}/build/nexus" serve \
        2>"$AB_TMP/nexus-$side-$mode.log" &
    PIDS[$side-$mode]=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:${PORT[$side-$mode]}/healthz" >/dev/null && return 0
        sleep 0.1
    done
    die "nexus $side $mode did not start: see $AB_TMP/nexus-$side-$mode.log"
}

seed_side() { # SIDE: its own `nexus seed`; the seed's summary on stdout
    DATABASE_URL="host=$AB_TMP/sock user=postgres dbname=nexus_$1" \
        "${SRC[$1]}/build/nexus" seed --products "$PRODUCTS" --categories 52 | tail -1
}
declare -A SEEDED
pg_create_db "$AB_TMP/sock" nexus_a
SEEDED[a]=$(seed_side a)
if [ "$SEED" = same ]; then
    psql -h "$AB_TMP/sock" -U postgres -d postgres -XAtq -c "CREATE DATABASE nexus_b TEMPLATE nexus_a"
    DATABASE_URL="host=$AB_TMP/sock user=postgres dbname=nexus_b" \
        "${SRC[b]}/build/nexus" migrate >&2 || die "B's migrate failed"
    SEEDED[b]="A's catalog, migrated by B"
else
    pg_create_db "$AB_TMP/sock" nexus_b
    SEEDED[b]=$(seed_side b)
fi
for side in a b; do
    if [ "$COMPACT" = 0 ]; then
        psql_side "$side" "VACUUM (ANALYZE)"
    else
        psql_side "$side" "VACUUM (FULL, ANALYZE)"
    fi
    start_server "$side" cached
    start_server "$side" uncached
done

listing="category=dept-1&min_price=1.00&max_price=1000.00&sort=price"
# A realistic search (BENCH_SEARCH_SQL, as bench/catalog.sh), from each
# side's own catalog (the two seeds name products differently).
declare -A MAX_ID CURSOR MATCHES Q
# Row 100,000 of the filtered listing (or as deep as the shorter one goes).
listed() {
    psql_side "$1" "SELECT count(*) FROM products p JOIN categories c ON c.id = p.category_id
                    WHERE p.is_active AND p.deleted_at IS NULL
                    AND p.price_cents BETWEEN 100 AND 100000 AND c.slug LIKE 'dept-1-%'"
}
depth=$(printf '%s\n' 100000 $(($(listed a) - 20)) $(($(listed b) - 20)) | sort -n | head -1)
for side in a b; do
    MAX_ID[$side]=$(psql_side "$side" "SELECT max(id) FROM products")
    Q[$side]=$(psql_side "$side" "$BENCH_SEARCH_SQL")
    MATCHES[$side]=$(curl -sf "http://127.0.0.1:${PORT[$side-uncached]}/api/v1/products?q=${Q[$side]}&include_total=true" |
        sed -n 's/.*"total":\([0-9]*\).*/\1/p')
    # the cursor of row $depth of the filtered listing, walked page by page
    CURSOR[$side]=$(bench_cursor_at \
        "http://127.0.0.1:${PORT[$side-uncached]}/api/v1/products?$listing" "$depth")
    for mode in cached uncached; do
        max=${MAX_ID[$side]}
        [ "$mode" = cached ] && [ "$max" -gt "$HOT_IDS" ] && max=$HOT_IDS
        bench_by_id_lua "$max" >"$AB_TMP/by_id-$side-$mode.lua"
    done
done

SCENARIOS=("product by id" "first page" "filtered page" "deep page (row $depth)" "search (a brand and a kind)")
scenario_args() { # INDEX SIDE MODE: wrk's path and script
    case $1 in
    0) echo "/ $AB_TMP/by_id-$2-$3.lua" ;;
    1) echo "/api/v1/products" ;;
    2) echo "/api/v1/products?$listing" ;;
    3) echo "/api/v1/products?$listing&cursor=${CURSOR[$2]}" ;;
    4) echo "/api/v1/products?q=${Q[$2]}" ;;
    esac
}
measure() { # INDEX SIDE MODE: req/s of one wrk run
    local path script
    read -r path script <<<"$(scenario_args "$1" "$2" "$3")"
    BENCH_PORT=${PORT[$2-$3]} bench_wrk_values "$path" "$script" | awk '{print $1}'
}

# Warm the caches (and PostgreSQL's buffers) once on every server.
for i in "${!SCENARIOS[@]}"; do
    for key in a-cached b-cached a-uncached b-uncached; do
        BENCH_DURATION=2s measure "$i" "${key%-*}" "${key#*-}" >/dev/null
    done
done

declare -A RUNS
for round in $(seq "$ROUNDS"); do
    order="a b"
    [ $((round % 2)) -eq 0 ] && order="b a"
    for i in "${!SCENARIOS[@]}"; do
        for mode in cached uncached; do
            for side in $order; do
                RUNS[$i-$mode-$side]+=" $(measure "$i" "$side" "$mode")"
            done
        done
    done
done

echo "## v1 reads, A/B: $PRODUCTS products ($(nproc) cores, $BENCH_CONNECTIONS connections, $BENCH_DURATION each, median of $ROUNDS rounds)"
echo
echo "A = $(git -C "$NEXUS_ROOT" log -1 --format='%h %s' "$A" | cut -c1-80)"
echo "B = $(git -C "$NEXUS_ROOT" log -1 --format='%h %s' "$B" | cut -c1-80)"
echo "seeds: A ${SEEDED[a]}; B ${SEEDED[b]}; $([ "$COMPACT" = 0 ] && echo vacuumed || echo compacted) (products: A $(psql_side a "SELECT pg_size_pretty(pg_total_relation_size('products'))"), B $(psql_side b "SELECT pg_size_pretty(pg_total_relation_size('products'))"))"
echo "search: A q=${Q[a]} (${MATCHES[a]:-?} matches), B q=${Q[b]} (${MATCHES[b]:-?} matches)"
echo
# The rounds' B/A, each from A and B measured back to back: the machine's
# speed drifts between rounds far more than within one, so the median of
# these pairs varies less between runs than the ratio of the two medians.
round_ratios() { # "A RUNS" "B RUNS": B/A per round
    paste -d' ' <(printf '%s\n' $1) <(printf '%s\n' $2) | awk '{ printf "%.3f\n", $2 / $1 }'
}
printf '| %-34s | %-8s | %10s | %10s | %6s | %12s | %s\n' scenario mode "A req/s" "B req/s" "B/A" \
    "B/A paired" "runs A; B"
printf '|%s|%s|%s|%s|%s|%s|%s\n' "$(printf -- '-%.0s' {1..36})" "----------" "------------" \
    "------------" "--------" "--------------" "---"
for i in "${!SCENARIOS[@]}"; do
    for mode in cached uncached; do
        a=$(bench_median "${RUNS[$i-$mode-a]}")
        b=$(bench_median "${RUNS[$i-$mode-b]}")
        paired=$(bench_median "$(round_ratios "${RUNS[$i-$mode-a]}" "${RUNS[$i-$mode-b]}")")
        printf '| %-34s | %-8s | %10s | %10s | %6.3f | %12s | %s;%s\n' "${SCENARIOS[$i]}" "$mode" \
            "$a" "$b" "$(echo "$b / $a" | bc -l)" "$paired" "${RUNS[$i-$mode-a]}" "${RUNS[$i-$mode-b]}"
    done
done
