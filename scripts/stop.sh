#!/usr/bin/env bash
# Stops what scripts/run.sh started, in order: the worker (SIGTERM: it stops
# claiming and hands back or finishes its jobs), the server, PostgreSQL
# (pg_ctl -m fast) and the registry, each by its pid file, waiting for each
# to exit. Data stays in .state/ unless --clean is given.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=$ROOT/.state
PG_BIN=${KF_PG_BIN:-/usr/lib/postgresql/15/bin}
clean=0
for arg in "$@"; do
  case "$arg" in
    --clean) clean=1 ;;
    -h|--help) echo "usage: scripts/stop.sh [--clean]"; exit 0 ;;
    *) echo "stop.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Running and not a zombie (nothing reaps a process whose parent is gone).
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

stop_pidfile() { # NAME PIDFILE [SECONDS]
  local name=$1 file=$2 limit=$((${3:-10} * 10)) pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid"; then
    # Only the process we started: a recycled pid runs something else.
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"; then
      echo "stop.sh: pid $pid is not $name any more; leaving it alone" >&2
    else
      kill -TERM "$pid"
      for ((i = 0; i < limit; i++)); do
        alive "$pid" || break
        sleep 0.1
      done
      if alive "$pid"; then
        echo "stop.sh: $name (pid $pid) did not stop in time; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
      fi
      echo "stopped $name (pid $pid)"
    fi
  fi
  rm -f "$file"
}

stop_postgres() {
  local dir=$STATE/pg pid
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" && [ -d "$dir/data" ]; then
    local as=()
    if [ "$(id -u)" = 0 ]; then as=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi
    if (cd / && ${as[@]+"${as[@]}"} "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null); then
      echo "stopped postgres (pid $pid)"
      rm -f "$dir/pid"
      return 0
    fi
    echo "stop.sh: pg_ctl stop failed; signalling the postmaster" >&2
  fi
  stop_pidfile postgres "$dir/pid" 60
}

# The worker first: a job it holds goes back to the queue while the database is up.
stop_pidfile kofarm-worker "$STATE/worker/pid" 60
stop_pidfile kofarm-server "$STATE/server/pid" 10
stop_postgres
stop_pidfile docker-registry "$STATE/registry/pid" 10
if [ "$clean" = 1 ]; then
  rm -rf "$STATE"
  echo "removed $STATE"
fi
