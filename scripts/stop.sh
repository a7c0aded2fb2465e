#!/usr/bin/env bash
# Stops what scripts/run.sh started (the registry, by its pid file) and waits
# for it to exit. The registry's data stays in .state/ unless --clean is given.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=$ROOT/.state
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

stop_pidfile() { # NAME PIDFILE
  local name=$1 file=$2 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid"; then
    # Only the process we started: a recycled pid runs something else.
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"; then
      echo "stop.sh: pid $pid is not $name any more; leaving it alone" >&2
    else
      kill -TERM "$pid"
      for _ in $(seq 1 100); do
        alive "$pid" || break
        sleep 0.1
      done
      if alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
      fi
      echo "stopped $name (pid $pid)"
    fi
  fi
  rm -f "$file"
}

stop_pidfile docker-registry "$STATE/registry/pid"
if [ "$clean" = 1 ]; then
  rm -rf "$STATE"
  echo "removed $STATE"
fi
