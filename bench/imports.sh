#!/usr/bin/env bash
# bench/imports.sh -- bulk import and export of products.
#
#   bench/imports.sh                         # 200,000 products
#   BENCH_PRODUCTS=1000000 bench/imports.sh  # 1,000,000 products
#
# 1. Seed: `nexus seed --products N` into the empty catalog, timed (the
#    yardstick of the import).
# 2. Export: GET /api/v1/exports/products?format=ndjson of the seeded
#    catalog, timed from the request to the last byte, while the server's
#    VmRSS is sampled every 50 ms from /proc/PID/status; against psql
#    `\copy (SELECT the same columns, variants included) TO STDOUT` over the
#    same socket. Both write to /dev/null (the export's bytes are kept once,
#    untimed, as the import's input).
# 3. Import: the products are deleted (TRUNCATE: the categories stay, the
#    catalog is empty), then the export is POSTed to /api/v1/imports and
#    one worker applies it; timed from the request until the import is
#    done (upload and apply also shown apart).
# 4. Stock sync: a CSV of the first BENCH_STOCK_ROWS (20,000) variants by
#    id, each row its SKU, product name, price and stock plus one, as a
#    store's daily stock file would be, imported into that catalog; timed
#    like the import.
# 5. The same stock file again, every row now equal to its product (a
#    feed sent again unchanged); timed like the import, with how many
#    products it wrote (their row versions moved) and how many catalog
#    cache bumps it owed.
# PostgreSQL options: BENCH_PG_OPTIONS (e.g. "-c fsync=off"), the same for
# every step.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-200000}
WORKER_PID=
bench_setup
imports_teardown() {
    [ -n "$WORKER_PID" ] && kill -TERM "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null
    bench_teardown
}
trap imports_teardown EXIT INT TERM
export IMPORT_MAX_BYTES=2147483647 # the whole export of a large catalog in one upload
# psql itself, not the wrapper that starts perl first: the import is
# polled with it while it runs
psql_bench() { "$PG_BIN/psql" -h "$BENCH_TMP/sock" -U postgres -d postgres -XAtq "$@"; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

# ---- seed -----------------------------------------------------------------------
"$BUILD/nexus" migrate >/dev/null
t=$(now)
"$BUILD/nexus" seed --products "$PRODUCTS" >&2
seed_s=$(elapsed "$t")
variants=$(psql_bench -c "SELECT count(*) FROM product_variants")

bench_start_server
api=http://127.0.0.1:$BENCH_PORT/api/v1
token=$(bench_staff_token)

# ---- export -----------------------------------------------------------------------
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$BENCH_PID/status"; }
# sample_rss FILE: the server's VmRSS every 50 ms until killed
sample_rss() { while :; do rss_kb >>"$1"; sleep 0.05; done; }

export_url="$api/exports/products?format=ndjson"
curl -sf -o "$BENCH_TMP/export.ndjson" -H "Authorization: Bearer $token" "$export_url" # warm-up, and the import's input
lines=$(wc -l <"$BENCH_TMP/export.ndjson")
[ "$lines" = "$PRODUCTS" ] || die "the export has $lines lines, not $PRODUCTS"
rss_before=$(rss_kb)
sample_rss "$BENCH_TMP/rss.txt" &
sampler=$!
export_s=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "$export_url")
kill "$sampler"
wait "$sampler" 2>/dev/null || true
rss_max=$( (cat "$BENCH_TMP/rss.txt"; echo "$rss_before") | sort -n | tail -1)

copy_sql="SELECT p.sku, p.name, p.slug, p.description, p.price_cents, p.currency, p.stock,
  c.slug, p.is_active, p.attributes, p.images,
  (SELECT string_agg(concat_ws(E'\\t', v.sku, v.price_cents, v.stock, v.is_active, v.options),
     E'\\n' ORDER BY v.position, v.id) FROM product_variants v
   WHERE v.product_id = p.id AND v.deleted_at IS NULL
   HAVING count(*) > 1 OR bool_or(NOT v.is_active OR v.options <> '{}'))
  FROM products p LEFT JOIN categories c ON c.id = p.category_id
  WHERE p.deleted_at IS NULL ORDER BY p.id"
t=$(now)
psql_bench -c "\\copy ($(tr '\n' ' ' <<<"$copy_sql")) TO STDOUT" >/dev/null
copy_s=$(elapsed "$t")

# ---- import into an empty catalog ---------------------------------------------------
psql_bench -c "TRUNCATE products, product_variants CASCADE" >/dev/null
psql_bench -c "VACUUM ANALYZE products, product_variants" >/dev/null
LOG_LEVEL=info JOB_POLL_MS=100 "$BUILD/nexus" worker 2>>"$BENCH_TMP/worker.log" &
WORKER_PID=$!
# run_import FILE CONTENT_TYPE: POST it to /imports and wait until it is
# done; sets id, upload_s (the upload) and import_s (upload and apply).
run_import() {
    local t status=
    t=$(now)
    id=$(curl -sf "$api/imports" -H "Authorization: Bearer $token" -H "Content-Type: $2" \
        --data-binary @"$1" | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
    [ -n "$id" ] || die "the upload was refused"
    upload_s=$(elapsed "$t")
    until [ "$status" = done ] || [ "$status" = failed ]; do
        sleep 0.5
        status=$(psql_bench -c "SELECT status FROM imports WHERE id = $id")
    done
    import_s=$(elapsed "$t")
}
import_counts() {
    psql_bench -c "SELECT status || ' ' || rows || ' rows, ' || created || ' created, ' ||
                          updated || ' updated, ' || failed || ' failed' FROM imports WHERE id = $id"
}
run_import "$BENCH_TMP/export.ndjson" application/x-ndjson
counts=$(import_counts)
imported=$(psql_bench -c "SELECT count(*) || ' products, ' ||
                                 (SELECT count(*) FROM product_variants) || ' variants' FROM products")

# ---- a stock sync: one CSV row per variant, its stock plus one -----------------------
STOCK_ROWS=${BENCH_STOCK_ROWS:-20000}
psql_bench -c "\\copy (SELECT v.sku, p.name, (v.price_cents / 100.0)::numeric(20, 2) AS price,
  v.stock + 1 AS stock FROM product_variants v JOIN products p ON p.id = v.product_id
  WHERE v.deleted_at IS NULL ORDER BY v.id LIMIT $STOCK_ROWS) TO STDOUT WITH (FORMAT csv, HEADER)" \
    >"$BENCH_TMP/stock.csv"
stock_rows=$(($(wc -l <"$BENCH_TMP/stock.csv") - 1))
full_s=$import_s full_upload_s=$upload_s
run_import "$BENCH_TMP/stock.csv" text/csv
stock_s=$import_s import_s=$full_s upload_s=$full_upload_s
stock_counts=$(import_counts)

# ---- the same stock file again: every row equal to its product -------------------------
psql_bench -c "CREATE TABLE bench_versions AS SELECT id, xmin::text AS v FROM products" >/dev/null
owed="SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('cache_owed_bumps', 'id')::regclass), 0)"
owed_before=$(psql_bench -c "$owed")
run_import "$BENCH_TMP/stock.csv" text/csv
again_s=$import_s import_s=$full_s upload_s=$full_upload_s
again_counts=$(import_counts)
again_written=$(psql_bench -c "SELECT count(*) FROM products p JOIN bench_versions b ON b.id = p.id
                                WHERE p.xmin::text <> b.v")
again_owed=$(($(psql_bench -c "$owed") - owed_before))

bytes=$(stat -c %s "$BENCH_TMP/export.ndjson")
ratio() { echo "scale=2; $1 / $2" | bc; }
rate() { echo "$PRODUCTS / $1" | bc; }
echo
echo "$PRODUCTS products, $variants variants; the export is $bytes bytes of NDJSON"
echo
echo "| step | time | rows/s |"
echo "|---|---|---|"
echo "| nexus seed --products $PRODUCTS | ${seed_s} s | $(rate "$seed_s") |"
echo "| import (upload + apply) | ${import_s} s | $(rate "$import_s") |"
echo "| of which the upload | ${upload_s} s | |"
echo "| stock sync, a CSV of $stock_rows variants' stock | ${stock_s} s | $(echo "$stock_rows / $stock_s" | bc) |"
echo "| the same stock file again, unchanged | ${again_s} s | $(echo "$stock_rows / $again_s" | bc) |"
echo "| export, GET /exports/products?format=ndjson | ${export_s} s | $(rate "$export_s") |"
echo "| psql \\copy of the same columns | ${copy_s} s | $(rate "$copy_s") |"
echo
echo "import: $counts; the catalog after it: $imported"
echo "stock sync: $stock_counts"
echo "the same stock file again: $again_counts; $again_written products written," \
    "$again_owed catalog cache bumps owed"
# the phases of a bulk import, as its worker logged them
phases=$(grep -o '"msg":"import [0-9]*: rows applied[^"]*' "$BENCH_TMP/worker.log" | cut -d: -f3- || true)
[ -z "$phases" ] || echo "import phases:$phases"
ticks=$(awk '{print $14 + $15}' "/proc/$WORKER_PID/stat")
echo "the worker's own CPU time (parsing, validating, COPY text): $(echo "scale=1; $ticks / $(getconf CLK_TCK)" | bc) s"
echo "import / seed: $(ratio "$import_s" "$seed_s")x (target at most 1.5x)"
echo "export rows/s / psql \\copy rows/s: $(ratio "$copy_s" "$export_s")x (target at least 0.5x)"
echo "server VmRSS during the export: $rss_before kB before, $rss_max kB at most:" \
    "+$(((rss_max - rss_before) / 1024)) MB (target at most 16 MB)"
