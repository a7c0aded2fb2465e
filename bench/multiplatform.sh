#!/usr/bin/env bash
# Benchmark: `kofarm build` of the example server for 6 platforms at once
# against the sum of 6 single-platform builds, warm Go cache, base scratch,
# one local docker-registry. Every run pushes to a fresh repository with an
# empty kofarm layer cache, so each does the same work (link, layers, gzip,
# push). Prints medians and the ratio. Not a test: nothing is asserted.
#   bench/multiplatform.sh [ROUNDS]       (default 5)
set -uo pipefail
ROUNDS=${1:-5}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"

# Six platforms Go 1.19 builds with CGO_ENABLED=0 and scratch can carry.
PLATFORMS=(linux/amd64 linux/arm64 linux/arm/v7 linux/386 linux/ppc64le linux/s390x)
ALL=$(IFS=,; echo "${PLATFORMS[*]}")

need_tools kofarm docker-registry skopeo
start_registry
R=$REGISTRY
export KO_DEFAULTBASEIMAGE=scratch
JOBS=${JOBS:-$(nproc)}

build() { # REPO PLATFORMS
  (cd "$FIXTURE" && KOFARM_CACHE_DIR=$T/cache-$1 "$KOFARM" build -q -B -j "$JOBS" --repo "$R/$1" \
    --platform="$2" ./cmd/server >/dev/null) || die "kofarm build $2 failed"
  rm -rf "$T/cache-$1"
}

echo "warming the Go cache for ${#PLATFORMS[@]} platforms (untimed)..."
build warm "$ALL"
[ "$(skopeo inspect --raw --tls-verify=false "docker://$R/warm/server:latest" | jq '.manifests | length')" = "${#PLATFORMS[@]}" ] ||
  die "the 6-platform build did not push a 6-entry index"

multi=""
sums=""
declare -A single=()
for ((i = 0; i < ROUNDS; i++)); do
  t0=$(now_ns)
  build "multi-$i" "$ALL"
  t1=$(now_ns)
  multi+="$(((t1 - t0) / 1000)) "
  sum=0
  for p in "${PLATFORMS[@]}"; do
    t0=$(now_ns)
    build "single-$i-${p//\//-}" "$p"
    t1=$(now_ns)
    single[$p]+="$(((t1 - t0) / 1000)) "
    sum=$((sum + (t1 - t0) / 1000))
  done
  sums+="$sum "
done

printf 'example server, warm Go cache, base scratch, -j %s, %s rounds\n\n' "$JOBS" "$ROUNDS"
printf '%-34s %6s %10s %10s %10s\n' "build + push" runs "median ms" "min ms" "max ms"
for p in "${PLATFORMS[@]}"; do
  print_row "1 platform: $p" ${single[$p]}
done
print_row "sum of the 6 single builds" $sums
print_row "6 platforms in one build" $multi
echo
printf '6-platform build / sum of single builds = %s   (target <= 0.6 on 2 cores)\n' \
  "$(ratio "$(median $multi)" "$(median $sums)")"
