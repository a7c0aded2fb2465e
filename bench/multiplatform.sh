#!/usr/bin/env bash
# Benchmark: `kofarm build` of the example server for 6 platforms at once
# against the sum of 6 single-platform builds, warm Go cache, base scratch,
# one local docker-registry. Every run pushes to a fresh repository with an
# empty kofarm layer cache, so each does the same work (link, layers, gzip,
# push). For reference, the same rounds time bare `go build`s of the 6
# platforms, JOBS at a time (GOMAXPROCS = cores / JOBS each) and one
# after another: the toolchain's own scaling on this machine. Prints medians,
# the ratios of the medians and the medians of the per-round ratios (each
# round's runs are back to back, so a drift in the machine's speed cancels).
# Not a test: nothing is asserted.
#   bench/multiplatform.sh [ROUNDS]       (default 9)
set -uo pipefail
ROUNDS=${1:-9}
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

# bare_build PLATFORM: go build of the example as kofarm runs it, no image.
bare_build() {
  local os=${1%%/*} arch=${1#*/} variant=""
  if [[ "$arch" == */* ]]; then variant=${arch#*/}; arch=${arch%%/*}; fi
  (cd "$FIXTURE" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=${variant#v} \
    go build -trimpath -o "$T/bare-${1//\//-}" ./cmd/server) || die "go build $1 failed"
  rm -f "$T/bare-${1//\//-}"
}
export -f bare_build die
export FIXTURE T
SHARE=$(($(nproc) / JOBS))
[ "$SHARE" -ge 1 ] || SHARE=1

echo "warming the Go cache for ${#PLATFORMS[@]} platforms (untimed)..."
build warm "$ALL"
[ "$(skopeo inspect --raw --tls-verify=false "docker://$R/warm/server:latest" | jq '.manifests | length')" = "${#PLATFORMS[@]}" ] ||
  die "the 6-platform build did not push a 6-entry index"

multi=""
sums=""
bare_multi=""
bare_sums=""
round_ratios=""
bare_round_ratios=""
declare -A single=()
for ((i = 0; i < ROUNDS; i++)); do
  t0=$(now_ns)
  build "multi-$i" "$ALL"
  t1=$(now_ns)
  m=$(((t1 - t0) / 1000))
  multi+="$m "
  sum=0
  for p in "${PLATFORMS[@]}"; do
    t0=$(now_ns)
    build "single-$i-${p//\//-}" "$p"
    t1=$(now_ns)
    single[$p]+="$(((t1 - t0) / 1000)) "
    sum=$((sum + (t1 - t0) / 1000))
  done
  sums+="$sum "
  round_ratios+="$(ratio "$m" "$sum") "
  t0=$(now_ns)
  printf '%s\n' "${PLATFORMS[@]}" | GOMAXPROCS=$SHARE xargs -P "$JOBS" -I{} bash -c 'bare_build "$1"' _ {} ||
    die "bare go builds failed"
  t1=$(now_ns)
  bm=$(((t1 - t0) / 1000))
  bare_multi+="$bm "
  t0=$(now_ns)
  for p in "${PLATFORMS[@]}"; do bare_build "$p"; done
  t1=$(now_ns)
  bs=$(((t1 - t0) / 1000))
  bare_sums+="$bs "
  bare_round_ratios+="$(ratio "$bm" "$bs") "
done

printf 'example server, warm Go cache, base scratch, -j %s, %s rounds\n\n' "$JOBS" "$ROUNDS"
printf '%-34s %6s %10s %10s %10s\n' "build + push" runs "median ms" "min ms" "max ms"
for p in "${PLATFORMS[@]}"; do
  print_row "1 platform: $p" ${single[$p]}
done
print_row "sum of the 6 single builds" $sums
print_row "6 platforms in one build" $multi
print_row "bare go build: 6 one by one" $bare_sums
print_row "bare go build: 6, $JOBS at a time" $bare_multi
echo
med_ratio() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {
  if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '6-platform build / sum of single builds = %s, per-round median %s   (target <= 0.6 on 2 cores)\n' \
  "$(ratio "$(median $multi)" "$(median $sums)")" "$(med_ratio $round_ratios)"
printf 'bare go build, same ratio              = %s, per-round median %s   (the toolchain alone)\n' \
  "$(ratio "$(median $bare_multi)" "$(median $bare_sums)")" "$(med_ratio $bare_round_ratios)"
