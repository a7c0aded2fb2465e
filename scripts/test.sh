#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test
# (Criterion unit tests and C integration tests under ctest, the ko parity
# check, the integration scripts, web_test's browser run included: chromium
# + playwright-core from npm into the build dir), then the same again built with
# AddressSanitizer + UndefinedBehaviorSanitizer. Ends with one line
# "N passed, M failed" and exits non-zero on any failure.
#
#   scripts/test.sh [--no-sanitize | --sanitize-only] [--quick-sanitize]
#   KF_SHELL_TESTS="cli_build_test ..."      run only these shell tests
#   KF_SANITIZE_SHELL_TESTS="..." | all | none   shell tests of the ASan pass
#                                             (default: all)
#   KF_BUILD_DIR, KF_ASAN_BUILD_DIR          build directories (build, build-asan)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

plain=1
sanitize=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitize) sanitize=0 ;;
    --sanitize-only) plain=0 ;;
    --quick-sanitize) KF_SANITIZE_SHELL_TESTS=${KF_SANITIZE_SHELL_TESTS:-cli_build_test cli_errors_test} ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

PASSED=0
FAILED=0
FAILED_NAMES=()
START=$(date +%s)

section() { printf '\n==== %s (%ss)\n' "$*" "$(($(date +%s) - START))"; }
count() { # PASSED FAILED NAME
  PASSED=$((PASSED + $1))
  FAILED=$((FAILED + $2))
  if [ "$2" -gt 0 ]; then FAILED_NAMES+=("$3"); fi
}

section "dependencies"
if ! "$ROOT/scripts/deps.sh"; then
  echo "0 passed, 1 failed"
  exit 1
fi

# One Go build cache for every test of both passes (the C tests and the
# shell tests read KF_GOCACHE); a cold standard library costs ~12 s per
# platform, a warm one nothing. GOCACHE itself stays unset: unit tests check
# what kofarm does without it.
export KF_GOCACHE=${KF_GOCACHE:-$ROOT/build/gocache}
mkdir -p "$KF_GOCACHE"
unset GOCACHE

# ctest's summary: "100% tests passed, 0 tests failed out of 12".
run_ctest() { # BUILD-DIR LABEL
  local dir=$1 label=$2 log summary total failed
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure -j2 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  if [ -n "$summary" ]; then
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
    failed=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$summary")
    count $((total - failed)) "$failed" "ctest ($label)"
    if [ "$failed" -eq 0 ] && [ "$rc" -ne 0 ]; then count 0 1 "ctest ($label) exit $rc"; fi
  elif grep -q 'No tests were found' "$log"; then
    count 0 1 "ctest ($label): no tests found"
  else
    count 0 1 "ctest ($label) exit $rc"
  fi
  rm -f "$log"
}

# A shell test prints "NAME: N passed, M failed" last; a script without
# such a line counts as one check, passed or failed by its exit status.
run_shell_test() { # SCRIPT KOFARM LABEL [NAME]
  local script=$1 kofarm=$2 label=$3 name=${4:-$(basename "$1" .sh)} log line p f rc t0
  log=$(mktemp)
  t0=$(date +%s)
  printf -- '---- %s (%s)\n' "$name" "$label"
  KOFARM=$kofarm bash "$script" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '(^|: )[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  if [ -n "$line" ]; then
    p=$(sed -E 's/^(.*: )?([0-9]+) passed.*/\2/' <<<"$line")
    f=$(sed -E 's/.*passed, ([0-9]+) failed$/\1/' <<<"$line")
    count "$p" "$f" "$name ($label)"
    if [ "$f" -eq 0 ] && [ "$rc" -ne 0 ]; then count 0 1 "$name ($label) exit $rc"; fi
  elif [ "$rc" -eq 0 ]; then
    count 1 0 "$name ($label)"
  else
    count 0 1 "$name ($label) exit $rc"
  fi
  printf -- '---- %s: %ss\n' "$name" "$(($(date +%s) - t0))"
  rm -f "$log"
}

# ko parity links its own driver against the plain engine library, so it
# runs in the plain pass only.
run_parity() { # BUILD-DIR LABEL
  [ -f "$ROOT/tests/parity/run.sh" ] || return 0
  KF_BUILD_DIR=$1 KF_PARITY_GOCACHE=$KF_GOCACHE run_shell_test "$ROOT/tests/parity/run.sh" "$1/bin/kofarm" "$2" parity
}

shell_tests() { # LIST ("all", "none" or names)
  local want=$1 t
  for t in "$ROOT"/tests/integration/*_test.sh; do
    [ -e "$t" ] || continue
    if [ "$want" = all ] || [[ " $want " == *" $(basename "$t" .sh) "* ]]; then echo "$t"; fi
  done
}

run_pass() { # LABEL BUILD-DIR BUILD-FLAG SHELL-TEST-LIST
  local label=$1 dir=$2 flag=$3 list=$4 t
  section "$label: build ($dir)"
  if ! "$ROOT/scripts/build.sh" $flag; then
    count 0 1 "build ($label)"
    # A failed build fails the run; still test what does build, for the report.
    "$ROOT/scripts/build.sh" $flag --target kofarm || return
  fi
  section "$label: ctest"
  run_ctest "$dir" "$label"
  if [ "$label" = plain ]; then
    section "$label: ko parity"
    run_parity "$dir" "$label"
  fi
  section "$label: CLI integration"
  for t in $(shell_tests "$list"); do
    run_shell_test "$t" "$dir/bin/kofarm" "$label"
  done
}

abs_dir() { case "$1" in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }

if [ "$plain" = 1 ]; then
  run_pass plain "$(abs_dir "${KF_BUILD_DIR:-build}")" "" "${KF_SHELL_TESTS:-all}"
fi
if [ "$sanitize" = 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  run_pass sanitize "$(abs_dir "${KF_ASAN_BUILD_DIR:-build-asan}")" --sanitize \
    "${KF_SANITIZE_SHELL_TESTS:-${KF_SHELL_TESTS:-all}}"
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

section "summary"
if [ ${#FAILED_NAMES[@]} -gt 0 ]; then
  printf 'failures in:\n'
  printf '  %s\n' "${FAILED_NAMES[@]}"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
