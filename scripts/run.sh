#!/usr/bin/env bash
# The run command: the whole kofarm stack on this machine, idempotently.
# Installs what is missing, builds kofarm, kofarm-server and kofarm-worker,
# then starts (or reuses, while they run) in .state/:
#   pg/        a private PostgreSQL cluster (initdb as user postgres; unix
#              socket there, 127.0.0.1 on 5432 or the next free port)
#   registry/  docker-registry on 127.0.0.1:5000 or the next free port,
#              seeded with kofarm's small static base image (3 platforms)
#   server/    kofarm-server on 127.0.0.1:8080 or the next free port
#              (migrations applied first)
#   worker/    one kofarm-worker (its caches and job directories)
#   token      an admin API token made once (mode 600)
# Each runs in its own session (setsid) with a pid file; scripts/stop.sh
# stops them. Then it builds the bundled example through the stack and
# prints the URL, the token and how to submit builds with curl and kofarm.
#   scripts/run.sh [--no-example]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=$ROOT/.state
BUILD_DIR=${KF_BUILD_DIR:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
BIN=$BUILD_DIR/bin
KOFARM=$BIN/kofarm
SERVER_BIN=$BIN/kofarm-server
WORKER_BIN=$BIN/kofarm-worker
PG_BIN=${KF_PG_BIN:-/usr/lib/postgresql/15/bin}
PLATFORMS=linux/amd64,linux/arm64,linux/arm/v7
example=1
for arg in "$@"; do
  case "$arg" in
    --no-example) example=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { # PID: running and not a zombie
  [[ "${1:-}" =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
is_prog() { # PID NAME: the process runs NAME (a recycled pid runs something else)
  alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"
}
free_port_from() { # FIRST: prints the first free port from FIRST on
  local p=$1
  while port_busy "$p"; do
    p=$((p + 1))
    [ "$p" -lt $(($1 + 100)) ] || die "no free port in $1-$(($1 + 99))"
  done
  echo "$p"
}
wait_for() { # SECONDS PID CMD...: polls CMD every 0.1 s while PID lives
  local limit=$(($1 * 10)) pid=$2 i
  shift 2
  for ((i = 0; i < limit; i++)); do
    "$@" && return 0
    alive "$pid" || return 1
    sleep 0.1
  done
  return 1
}
http_code() { curl -s -o /dev/null -w '%{http_code}' "$@" 2>/dev/null || true; }
# PostgreSQL refuses to run as root: as root, its programs run as user
# postgres (setpriv execs, so a pid stays the program's own).
AS_POSTGRES=()
if [ "$(id -u)" = 0 ]; then AS_POSTGRES=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi
as_postgres() { (cd / && ${AS_POSTGRES[@]+"${AS_POSTGRES[@]}"} "$@"); }
# stop_pid NAME PIDFILE: TERM, then KILL after 30 s (the worker hands its jobs back first).
stop_pid() {
  local pid
  pid=$(cat "$2" 2>/dev/null || true)
  if is_prog "$pid" "$1"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$2"
}

say "checking Debian packages"
"$ROOT/scripts/deps.sh"
say "building kofarm, kofarm-server and kofarm-worker"
"$ROOT/scripts/build.sh" >&2
for b in "$KOFARM" "$SERVER_BIN" "$WORKER_BIN"; do
  [ -x "$b" ] || die "$b was not built (are server/ and worker/ in this tree?)"
done
mkdir -p "$STATE"
chmod 755 "$STATE"

# ---------------------------------------------------------------- PostgreSQL
PG_DIR=$STATE/pg
pg_up() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1"; }
PG_PORT=""
if [ -f "$PG_DIR/pid" ] && [ -f "$PG_DIR/port" ]; then
  pid=$(cat "$PG_DIR/pid")
  port=$(cat "$PG_DIR/port")
  if is_prog "$pid" postgres && pg_up "$port"; then
    PG_PORT=$port
    say "reusing PostgreSQL on 127.0.0.1:$PG_PORT (pid $pid)"
  fi
fi
if [ -z "$PG_PORT" ]; then
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_DIR"; fi
  chmod 700 "$PG_DIR"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    say "initdb into $PG_DIR/data"
    as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U kofarm --auth=trust -E UTF8 --no-locale \
      >"$PG_DIR/initdb.log" 2>&1 || die "initdb failed: $(tail -3 "$PG_DIR/initdb.log")"
  fi
  # A postmaster killed hard leaves its pid file; one that still runs is ours to reuse, not to fight.
  if [ -f "$PG_DIR/data/postmaster.pid" ] && ! alive "$(head -1 "$PG_DIR/data/postmaster.pid")"; then
    rm -f "$PG_DIR/data/postmaster.pid"
  fi
  PG_PORT=$(free_port_from 5432)
  (cd / && exec setsid ${AS_POSTGRES[@]+"${AS_POSTGRES[@]}"} "$PG_BIN/postgres" -D "$PG_DIR/data" -p "$PG_PORT" \
    -k "$PG_DIR" -c listen_addresses=127.0.0.1 -c max_connections=200 >>"$PG_DIR/log" 2>&1 </dev/null) &
  echo $! >"$PG_DIR/pid"
  echo "$PG_PORT" >"$PG_DIR/port"
  wait_for 30 "$(cat "$PG_DIR/pid")" pg_up "$PG_PORT" || die "PostgreSQL did not start: $(tail -5 "$PG_DIR/log")"
  say "started PostgreSQL on 127.0.0.1:$PG_PORT (pid $(cat "$PG_DIR/pid"), data in $PG_DIR/data)"
fi
if ! psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U kofarm -d postgres \
     -c "SELECT 1 FROM pg_database WHERE datname = 'kofarm'" | grep -q 1; then
  psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U kofarm -d postgres -c "CREATE DATABASE kofarm" >/dev/null
fi
export KOFARM_DATABASE_URL="postgresql://kofarm@127.0.0.1:$PG_PORT/kofarm"

# ---------------------------------------------------------------- registry
REG_DIR=$STATE/registry
mkdir -p "$REG_DIR"
registry_up() { [ "$(http_code "http://127.0.0.1:$1/v2/")" = 200 ]; }
PORT=""
if [ -f "$REG_DIR/pid" ] && [ -f "$REG_DIR/port" ]; then
  pid=$(cat "$REG_DIR/pid")
  port=$(cat "$REG_DIR/port")
  if is_prog "$pid" docker-registry && registry_up "$port"; then
    PORT=$port
    say "reusing the registry on 127.0.0.1:$PORT (pid $pid)"
  fi
fi
if [ -z "$PORT" ]; then
  PORT=$(free_port_from 5000)
  cat >"$REG_DIR/config.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $REG_DIR/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$PORT, secret: kofarm-local}
EOF
  setsid docker-registry serve "$REG_DIR/config.yml" >"$REG_DIR/log" 2>&1 </dev/null &
  echo $! >"$REG_DIR/pid"
  echo "$PORT" >"$REG_DIR/port"
  wait_for 10 "$(cat "$REG_DIR/pid")" registry_up "$PORT" || die "the registry did not start; see $REG_DIR/log"
  say "started a registry on 127.0.0.1:$PORT (pid $(cat "$REG_DIR/pid"), data in $REG_DIR/data)"
fi
REG=127.0.0.1:$PORT
export KOFARM_INSECURE_REGISTRIES=$REG

BASE=$REG/kofarm/base:latest
if ! skopeo inspect --raw --tls-verify=false "docker://$BASE" >/dev/null 2>&1; then
  say "building the base image rootfs"
  "$ROOT/scripts/mkbase-rootfs.sh" "$STATE/base-rootfs.tar"
  say "pushing the base image $BASE ($PLATFORMS)"
  "$KOFARM" base create --platform "$PLATFORMS" --layer "$STATE/base-rootfs.tar" --user 65532 \
    --env PATH=/usr/local/bin:/usr/bin:/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$BASE" >&2
fi

# ---------------------------------------------------------------- server and worker
# A component is reused only while it runs with the same settings: a
# registry or database that moved to another port means a restart.
# start_component NAME DIR READY-CHECK ENV...: runs BIN NAME under setsid with ENV.
start_component() {
  local name=$1 dir=$2 check=$3 pid
  shift 3
  mkdir -p "$dir"
  local want
  want=$(printf '%s\n' "$@")
  pid=$(cat "$dir/pid" 2>/dev/null || true)
  if is_prog "$pid" "$name" && [ "$want" = "$(cat "$dir/settings" 2>/dev/null || true)" ] && "$check"; then
    say "reusing $name (pid $pid)"
    return 0
  fi
  if is_prog "$pid" "$name"; then
    say "restarting $name (its settings changed)"
    stop_pid "$name" "$dir/pid"
  fi
  setsid env "$@" "$BIN/$name" >>"$dir/log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  printf '%s\n' "$want" >"$dir/settings"
  wait_for 30 "$(cat "$dir/pid")" "$check" || die "$name did not start: $(tail -5 "$dir/log")"
  say "started $name (pid $(cat "$dir/pid"), log $dir/log)"
}

say "applying migrations"
"$SERVER_BIN" migrate >&2 || die "kofarm-server migrate failed"

SRV_DIR=$STATE/server
SERVER_PORT=$(cat "$SRV_DIR/port" 2>/dev/null || true)
server_up() { [ "$(http_code "http://127.0.0.1:$SERVER_PORT/healthz")" = 200 ]; }
if ! { is_prog "$(cat "$SRV_DIR/pid" 2>/dev/null || true)" kofarm-server && [ -n "$SERVER_PORT" ] && server_up; }; then
  SERVER_PORT=$(free_port_from 8080)
fi
mkdir -p "$SRV_DIR"
echo "$SERVER_PORT" >"$SRV_DIR/port"
start_component kofarm-server "$SRV_DIR" server_up \
  KOFARM_DATABASE_URL="$KOFARM_DATABASE_URL" KOFARM_LISTEN="127.0.0.1:$SERVER_PORT"
URL=http://127.0.0.1:$SERVER_PORT

WRK_DIR=$STATE/worker
worker_up() { is_prog "$(cat "$WRK_DIR/pid" 2>/dev/null || true)" kofarm-worker; }
start_component kofarm-worker "$WRK_DIR" worker_up \
  KOFARM_DATABASE_URL="$KOFARM_DATABASE_URL" KOFARM_STATE_DIR="$WRK_DIR" KOFARM_REPO="$REG/example" \
  KOFARM_DEFAULT_BASE_IMAGE="$BASE" KOFARM_INSECURE_REGISTRIES="$REG" KOFARM_ALLOW_FILE_URLS=1

# ---------------------------------------------------------------- token
TOKEN_FILE=$STATE/token
token_works() { [ "$(http_code -H "Authorization: Bearer $1" "$URL/v1/builds?limit=1")" = 200 ]; }
TOKEN=$(cat "$TOKEN_FILE" 2>/dev/null || true)
if [ -z "$TOKEN" ] || ! token_works "$TOKEN"; then
  TOKEN=$("$SERVER_BIN" token create --name local-admin --scope admin | tail -n1)
  [ -n "$TOKEN" ] || die "kofarm-server token create printed no token"
  (umask 077 && printf '%s\n' "$TOKEN" >"$TOKEN_FILE")
  say "made an admin token (in $TOKEN_FILE)"
else
  say "reusing the token in $TOKEN_FILE"
fi
chmod 600 "$TOKEN_FILE"

# ---------------------------------------------------------------- the example
REF=""
if [ "$example" = 1 ]; then
  say "building the bundled example through the stack: kofarm --server $URL build --platform=all ./cmd/server"
  REF=$(cd "$ROOT/tests/fixtures/hello" &&
        env -u KO_DOCKER_REPO -u KO_DEFAULTBASEIMAGE -u KO_DEFAULTPLATFORMS KOFARM_TOKEN="$TOKEN" \
          "$KOFARM" --server "$URL" build --platform=all ./cmd/server) ||
    die "the example build failed (logs: $SRV_DIR/log, $WRK_DIR/log)"
fi

cat <<EOF

kofarm is running:
  API         $URL          (openapi: $URL/openapi.yaml)
  web page    $URL/         (paste the token into its token field)
  token       $TOKEN
              (kept in .state/token)
  registry    $REG          (base image $BASE)
  database    $KOFARM_DATABASE_URL
  logs        .state/{server,worker,registry,pg}/log
${REF:+
Built the example: $REF
  run it here:  PORT=9090 scripts/run-image.sh $REF   (then curl http://127.0.0.1:9090/)
}
Submit a build of the bundled example with curl (the source uploaded as a tarball):
  tar cz -C tests/fixtures/hello . | curl -sS -H "Authorization: Bearer $TOKEN" \\
    -H 'Content-Type: application/gzip' --data-binary @- '$URL/v1/builds?importpaths=./cmd/server'
  curl -sS -H "Authorization: Bearer $TOKEN" $URL/v1/builds/ID
  curl -sS -H "Authorization: Bearer $TOKEN" '$URL/v1/builds/ID/log?follow=1'
The same with kofarm (follows the log, prints the reference):
  export KOFARM_SERVER=$URL KOFARM_TOKEN=$TOKEN
  (cd tests/fixtures/hello && $KOFARM build ./cmd/server)
  $KOFARM status ID; $KOFARM logs -f ID; $KOFARM cancel ID
Stop everything:
  scripts/stop.sh            (--clean also deletes .state/)
EOF
