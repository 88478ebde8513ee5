#!/bin/bash
# Run once by the postgres image when it creates the primary's database
# (/docker-entrypoint-initdb.d): the role the replica copies and streams
# with, and the pg_hba.conf line that lets it in over the compose network.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -v password="$POSTGRES_REPLICATION_PASSWORD" \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
