#!/bin/bash
# The postgres service of docker-compose.yml: on first start, initdb into
# $PGDATA with a superuser $POSTGRES_USER whose password is
# $POSTGRES_PASSWORD (scram-sha-256 over TCP, trust only on the socket
# inside the container) and the database $POSTGRES_DB; then runs postgres
# in the foreground (SIGINT from `docker stop` is a fast shutdown).
set -euo pipefail
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=kofarm}"
: "${POSTGRES_DB:=kofarm}"
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
  echo "postgres-entrypoint: set POSTGRES_PASSWORD" >&2
  exit 1
fi
case "$POSTGRES_USER$POSTGRES_DB" in
  *[!A-Za-z0-9_]*) echo "postgres-entrypoint: POSTGRES_USER and POSTGRES_DB: letters, digits and _ only" >&2; exit 1 ;;
esac

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  trap 'rm -f "$pwfile"' EXIT
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256
  rm -f "$pwfile"
  {
    echo "local all all trust"
    echo "host all all 0.0.0.0/0 scram-sha-256"
    echo "host all all ::/0 scram-sha-256"
  } >"$PGDATA/pg_hba.conf"
  # Single-user mode: no server listening yet, so nothing can race us.
  echo "CREATE DATABASE \"$POSTGRES_DB\";" | postgres --single -D "$PGDATA" -j postgres >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c max_connections="${POSTGRES_MAX_CONNECTIONS:-200}"
