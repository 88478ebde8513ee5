#!/bin/bash
# The postgres-replica service of docker-compose.yml: a streaming replica
# (hot standby) of the postgres service. On first start (an empty volume)
# it copies the primary with pg_basebackup -R, which also writes the
# standby settings (standby.signal, primary_conninfo); then it runs
# PostgreSQL on that copy. Runs as the postgres user.
set -euo pipefail
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "copying the primary (pg_basebackup -R) into $PGDATA"
    # PGPASSWORD (the replicator's password) comes from the environment.
    pg_basebackup -h postgres -U replicator -D "$PGDATA" -R -X stream -c fast
    chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby=on
