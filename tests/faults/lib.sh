# Shared by tests/faults/run and scripts/soak: a temporary directory with
# cleanup, servers of our own, and checks that count. Source it after
# scripts/lib/common.sh and services.sh, with BIN set to the nexus binary.

[ -x "$BIN" ] || die "no nexus binary at $BIN"
TMP=$(mktemp -d /tmp/nexus-faults.XXXXXX)
chmod 755 "$TMP"
passed=0
failed=0
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for d in "$TMP"/*/pg "$TMP"/disk/pg; do [ -d "$d" ] && pg_stop "$d"; done
    for d in "$TMP"/*/redis; do [ -d "$d" ] && redis_stop "$d"; done
    mountpoint -q "$TMP/disk" && umount "$TMP/disk"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# pg_crash DATADIR: SIGKILL the postmaster and its backends at once, as a
# crash of the whole server, and wait until all are gone. (Backends left
# behind by a lone killed postmaster keep its shared memory attached, and
# the next start refuses to run until they notice and exit.)
pg_crash() {
    local pm children
    pm=$(head -1 "$1/postmaster.pid")
    children=$(pgrep -P "$pm" | paste -sd' ' -)
    kill -9 "$pm" $children 2>/dev/null
    for _ in $(seq 100); do
        # gone or a zombie (nothing attached any more)
        ps -o stat= -p "$(echo "$pm" $children | tr ' ' ',')" | grep -qv '^Z' || return 0
        sleep 0.1
    done
    die "PostgreSQL processes outlived SIGKILL for 10 s"
}

check() {
    local name=$1
    shift
    if "$@"; then
        echo "ok - $name"
        passed=$((passed + 1))
    else
        echo "not ok - $name"
        failed=$((failed + 1))
    fi
}

# start_server DIR PORT [VAR=VALUE...]: nexus serve with DIR's services.
start_server() {
    local dir=$1 port=$2
    shift 2
    env DATABASE_URL="host=$dir/sock user=postgres dbname=postgres" PORT="$port" \
        JWT_SECRET=fault-test-secret-0123456789abcdef AUTO_MIGRATE=1 THREADS=2 LOG_LEVEL=warn \
        PER_IP_CONNECTION_LIMIT=100000 \
        "$@" "$BIN" serve >>"$dir/nexus.log" 2>&1 &
    pids+=($!)
    wait_for "nexus on port $port" curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" ||
        die "nexus did not start: $(tail -5 "$dir/nexus.log")"
}

# wait_for WHAT COMMAND...: poll COMMAND every 0.1 s until it succeeds, for
# at most 60 s: a deadline for a slow machine, not a bet on its speed.
wait_for() {
    local what=$1 start=$SECONDS
    shift
    until "$@" >/dev/null 2>&1; do
        if [ $((SECONDS - start)) -ge 60 ]; then
            echo "# gave up after 60 s waiting for $what"
            return 1
        fi
        sleep 0.1
    done
}

staff_token() {
    local dir=$1 port=$2
    echo "fault-staff-password" | DATABASE_URL="host=$dir/sock user=postgres dbname=postgres" \
        "$BIN" user create --email staff@example.com --role staff --if-missing >/dev/null
    curl -sf "http://127.0.0.1:$port/api/v1/auth/login" -H 'Content-Type: application/json' \
        -d '{"email":"staff@example.com","password":"fault-staff-password"}' |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

psql_at() { psql -h "$1/sock" -U postgres -d postgres -XAtq -c "$2"; }

# Statuses logged by the wrk scripts, as "count status" lines.
status_counts() { cat "$1"/status-* 2>/dev/null | sort | uniq -c; }
only_statuses() { ! status_counts "$1" | awk '{print $2}' | grep -qvE "^($2)$"; }
saw_status() { status_counts "$1" | awk '{print $2}' | grep -qx "$2"; }
no_socket_errors() { ! grep -q "Socket errors" "$1"; }
