#!/usr/bin/env bash
# Benchmark: kofarm resolve.
# 1. YAML handling alone: a 50 MB multi-document stream with 5,000 ko://
#    references to 20 import paths, every reference "already built" (the
#    driver bench/resolve_yaml.c answers at once), against the bytes copied
#    in memory, `cat FILE >/dev/null`, and libyaml parse + emit of every event
#    (the least a re-serialising resolver such as ko's does). Target >= 100 MB/s.
# 2. End to end: `kofarm resolve -f DIR` of a directory with 10 references to
#    3 import paths, against `kofarm build` of the same 3 import paths, both
#    pushing to one local registry with warm caches, alternating runs.
#    Target <= 1.1. Not a test: nothing is asserted.
#   bench/resolve.sh [ROUNDS]      (default 5)
set -uo pipefail
ROUNDS=${1:-5}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"

DRIVER=${KF_BUILD_DIR:-$HERE/../build}/bench/kofarm-bench-resolve
need_tools kofarm go
[ -x "$DRIVER" ] || die "no $DRIVER (scripts/build.sh builds it)"

echo "== YAML handling alone"
"$DRIVER" generate "$T/stream.yaml" 50 5000 20 2>/dev/null || die "generate failed"
cat_us=()
for ((i = 0; i < ROUNDS; i++)); do
  t0=$(now_ns); cat "$T/stream.yaml" >/dev/null; t1=$(now_ns)
  cat_us+=($(((t1 - t0) / 1000)))
done
"$DRIVER" run "$T/stream.yaml" "$ROUNDS" || die "the driver failed"
cat_ms=$(ms "$(median "${cat_us[@]}")")
size_mb=$(awk -v b="$(stat -c %s "$T/stream.yaml")" 'BEGIN {printf "%.1f", b / 1048576}')
printf '%-44s %9s %9s\n' "cat FILE >/dev/null (page cache)" "$cat_ms" \
  "$(awk -v mb="$size_mb" -v m="$cat_ms" 'BEGIN {printf "%.1f", mb / (m / 1000)}')"

echo
echo "== end to end: 10 references to 3 import paths"
start_registry
R=$REGISTRY
make_base "$R/base/seed:latest" linux/amd64 --user 65532 || die "cannot seed the base image"
SRC=$T/src
copy_fixture "$SRC"
mkdir -p "$SRC/cmd/third" "$SRC/config"
sed 's/hello from kofarm/third/' "$SRC/cmd/app/main.go" >"$SRC/cmd/third/main.go"
for i in $(seq 1 10); do
  case $((i % 3)) in 0) p=app ;; 1) p=server ;; 2) p=third ;; esac
  cat >"$SRC/config/d$i.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: d$i}
spec:
  template:
    spec:
      containers:
      - name: main
        image: ko://example.com/hello/cmd/$p
YAML
done
export KO_DOCKER_REPO=$R/e2e KO_DEFAULTBASEIMAGE=$BASE_OUT KOFARM_CACHE_DIR=$T/kfcache GOCACHE=$T/gocache
run_resolve() { (cd "$SRC" && "$KOFARM" resolve -f config >/dev/null 2>&1); }
run_build() { (cd "$SRC" && "$KOFARM" build ./cmd/app ./cmd/server ./cmd/third >/dev/null 2>&1); }
run_resolve || die "resolve failed"
run_build || die "build failed"
res_us=() build_us=()
for ((i = 0; i < ROUNDS; i++)); do
  for k in 0 1; do
    if [ $(((i + k) % 2)) = 0 ]; then
      t0=$(now_ns); run_resolve || die "resolve failed"; t1=$(now_ns); res_us+=($(((t1 - t0) / 1000)))
    else
      t0=$(now_ns); run_build || die "build failed"; t1=$(now_ns); build_us+=($(((t1 - t0) / 1000)))
    fi
  done
done
printf '%-34s %6s %10s %10s %10s\n' "" runs "median ms" "min ms" "max ms"
print_row "kofarm resolve -f config (10 refs)" "${res_us[@]}"
print_row "kofarm build of the 3 paths" "${build_us[@]}"
echo
printf 'resolve / build = %s   (target <= 1.1)\n' "$(ratio "$(median "${res_us[@]}")" "$(median "${build_us[@]}")")"
