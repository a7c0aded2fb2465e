#!/usr/bin/env bash
# Configures and builds kofarm with CMake: build/ by default, build-asan/ with
# --sanitize (AddressSanitizer + UndefinedBehaviorSanitizer). Two jobs at most.
# KF_BUILD_DIR / KF_ASAN_BUILD_DIR choose other directories (relative to the
# source root or absolute); extra arguments go to `cmake --build`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

dir=${KF_BUILD_DIR:-build}
flags=(-DKF_SANITIZE=OFF)
extra=()
for arg in "$@"; do
  case "$arg" in
    --sanitize) dir=${KF_ASAN_BUILD_DIR:-build-asan}; flags=(-DKF_SANITIZE=ON) ;;
    -h|--help) echo "usage: scripts/build.sh [--sanitize] [cmake --build arguments, e.g. --target kofarm]"; exit 0 ;;
    *) extra+=("$arg") ;;
  esac
done
case "$dir" in /*) ;; *) dir=$ROOT/$dir ;; esac

cmake -S "$ROOT" -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"${KF_JOBS:-2}" "${extra[@]}"
