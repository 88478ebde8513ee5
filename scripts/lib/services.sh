# Private PostgreSQL and Redis servers for development and tests.
# Source it after common.sh. PostgreSQL refuses to run as root, so as root
# its commands run as the postgres user.

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# pg_dirs DATADIR SOCKDIR LOGFILE: create them, owned by the user
# PostgreSQL runs as.
pg_dirs() {
    local data=$1 sock=$2 logfile=$3
    mkdir -p "$data" "$sock"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$data" "$sock"
        touch "$logfile" && chown postgres: "$logfile"
        as_postgres test -w "$data" || die "the postgres user cannot write $data (check the permissions of its parent folders)"
    fi
    chmod 700 "$data"
}

# glibc's malloc for PostgreSQL: by default a backend hands the top of its
# heap back to the kernel after nearly every statement (brk down, then up
# again on the next), and each shrink flushes the TLB of every CPU. With
# the heap kept (up to 256 MiB free at its top), an uncached read by id or
# a first page costs PostgreSQL about half the CPU (docs/PERFORMANCE.md,
# "PostgreSQL's malloc"). One tunable only: glibc
# 2.36 passes only the first of a list on to the processes pg_ctl starts.
# NEXUS_PG_MALLOC= (empty) starts PostgreSQL with glibc's defaults.
NEXUS_PG_MALLOC=${NEXUS_PG_MALLOC-glibc.malloc.trim_threshold=268435456}

# service_pid PIDFILE DIR NAME: the pid on the first line of PIDFILE when
# that process is a NAME working in DIR (Redis runs in its --dir, PostgreSQL
# in its data directory), else nothing and non-zero. A pid file left behind
# by a crash or a killed run may name a pid the system has given since to an
# unrelated process, which must never be signalled.
service_pid() {
    local pidfile=$1 dir=$2 name=$3 pid
    pid=$(head -n 1 "$pidfile" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$(realpath -q "$dir")" ] || return 1
    echo "$pid"
}

# pg_run DATADIR SOCKDIR LOGFILE [extra postgres options]: start an
# initialised cluster, listening on a unix socket only. A server of DATADIR
# still running is an orphan of a run that was killed (its PostgreSQL
# outlives it, a daemon of its own): it is stopped first, so that the start
# neither fails on its lock file nor keeps other options than these. A lock
# file that names no server of DATADIR (a crash's, its pid given since to
# another process) would make PostgreSQL refuse to start: it goes.
pg_run() {
    local data=$1 sock=$2 logfile=$3 extra=${4:-}
    pg_stop "$data"
    service_pid "$data/postmaster.pid" "$data" postgres >/dev/null || rm -f "$data/postmaster.pid"
    GLIBC_TUNABLES=$NEXUS_PG_MALLOC as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$logfile" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$sock' $extra" start >/dev/null \
        || { tail -n 20 "$logfile" >&2; die "PostgreSQL did not start: see $logfile"; }
}

# pg_start DATADIR SOCKDIR LOGFILE [extra postgres options]
# initdb on first use, then start listening on a unix socket only.
pg_start() {
    local data=$1 sock=$2 logfile=$3 extra=${4:-}
    pg_dirs "$data" "$sock" "$logfile"
    if [ ! -f "$data/PG_VERSION" ]; then
        log "initialising PostgreSQL in $data"
        as_postgres "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 \
            --locale=C.UTF-8 >>"$logfile" 2>&1 || die "initdb failed: see $logfile"
    fi
    pg_run "$data" "$sock" "$logfile" "$extra"
}

# pg_start_replica PRIMARY_SOCKDIR DATADIR SOCKDIR LOGFILE [extra options]
# A streaming replica (hot standby) of the primary on PRIMARY_SOCKDIR: on
# first use a copy made with pg_basebackup -R (which writes the standby
# settings), then started like pg_start. The primary's default settings
# allow it (wal_level replica, trusted local replication connections).
# Options such as "-c recovery_min_apply_delay=200ms" go in extra.
pg_start_replica() {
    local primary=$1 data=$2 sock=$3 logfile=$4 extra=${5:-}
    pg_dirs "$data" "$sock" "$logfile"
    if [ ! -f "$data/PG_VERSION" ]; then
        log "copying the primary on $primary to $data"
        as_postgres "$PG_BIN/pg_basebackup" -h "$primary" -U postgres -D "$data" -R \
            -X stream -c fast >>"$logfile" 2>&1 || die "pg_basebackup failed: see $logfile"
    fi
    pg_run "$data" "$sock" "$logfile" "$extra"
}

# pg_promote DATADIR: end a replica's recovery; it becomes a primary of its
# own (no longer a copy of the one it followed).
pg_promote() {
    as_postgres "$PG_BIN/pg_ctl" -D "$1" -w -t 60 promote >/dev/null || die "promotion failed"
}

# pg_stop DATADIR: stop its server, if one of that directory runs.
pg_stop() {
    local data=$1
    service_pid "$data/postmaster.pid" "$data" postgres >/dev/null || return 0
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

# pg_create_db SOCKDIR NAME: create the database unless it exists.
pg_create_db() {
    local sock=$1 name=$2
    if ! psql -h "$sock" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
        createdb -h "$sock" -U postgres "$name" || die "cannot create database $name"
    fi
}

# redis_start DIR [PORT]: a Redis with no persistence on DIR/redis.sock (and
# on 127.0.0.1:PORT when given), bounded to REDIS_MAXMEMORY (default 256mb)
# and evicting the least recently used keys when full (the cache is all it
# holds). A Redis of DIR still running (an orphan of a run that was
# killed) is stopped first.
redis_start() {
    local dir=$1 port=${2:-0} pid stale
    mkdir -p "$dir"
    redis_stop "$dir"
    stale=$(cat "$dir/redis.pid" 2>/dev/null || true) # a crashed one's, if any
    redis-server --port "$port" --bind 127.0.0.1 --unixsocket "$dir/redis.sock" --unixsocketperm 700 \
        --save '' --appendonly no --daemonize yes --pidfile "$dir/redis.pid" \
        --logfile "$dir/redis.log" --dir "$dir" \
        --maxmemory "${REDIS_MAXMEMORY:-256mb}" --maxmemory-policy allkeys-lru >/dev/null || die "Redis did not start"
    # A busy machine may take seconds to run the daemon: wait while it
    # lives (up to a minute), and no longer once it has exited.
    for _ in $(seq 600); do
        [ -S "$dir/redis.sock" ] && return 0
        pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
        [ -n "$pid" ] && [ "$pid" != "$stale" ] && ! kill -0 "$pid" 2>/dev/null && break
        sleep 0.1
    done
    die "Redis did not create its socket: see $dir/redis.log"
}

# redis_stop DIR: stop the Redis of DIR, if one runs; its pid file goes.
redis_stop() {
    local dir=$1 pid i
    [ -f "$dir/redis.pid" ] || return 0
    if pid=$(service_pid "$dir/redis.pid" "$dir" redis-server); then
        kill "$pid" 2>/dev/null || true
        # Gone before returning: a Redis still exiting would unlink the socket
        # of the next one started on the same path (killed after 30 s).
        for i in $(seq 600); do
            kill -0 "$pid" 2>/dev/null || break
            [ "$i" = 300 ] && kill -9 "$pid" 2>/dev/null
            sleep 0.1
        done
    fi
    rm -f "$dir/redis.pid"
}
