#!/usr/bin/env bash
# Benchmark: one prebuilt static Go binary (the example server, stripped,
# ~4.5 MB) -> an image manifest pushed to one local docker-registry, timed
# for kofarm (`kofarm containerize` on scratch) and the two peer pipelines
# available here: umoci + skopeo, and buildah (vfs storage). Runs alternate;
# every cold run pushes to a fresh repository with fresh local state. Then
# kofarm pushing the unchanged binary again (blobs already in the registry).
# Prints medians and ratios. Not a test: nothing is asserted about time.
#   bench/containerize.sh [ROUNDS]        (default 15)
set -uo pipefail
ROUNDS=${1:-15}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"

need_tools kofarm umoci skopeo buildah docker-registry
start_registry
R=$REGISTRY
BIN=$T/server
build_example_binary "$BIN" linux/amd64
printf 'binary: %s bytes (tests/fixtures/hello/cmd/server, -trimpath -ldflags="-s -w")\n' "$(stat -c %s "$BIN")"
printf 'registry: docker-registry on %s; %s rounds, order rotated each round\n\n' "$R" "$ROUNDS"

BUILDAH=(buildah --root "$T/buildah/root" --runroot "$T/buildah/run" --storage-driver vfs)

# Each pipeline: binary -> pushed manifest in repository $1. Untimed set-up
# and clean-up live in *_reset.
run_kofarm() {
  KOFARM_CACHE_DIR=$T/kfcache-$1 KO_DEFAULTBASEIMAGE=scratch \
    "$KOFARM" containerize -q --name server -B --repo "$R/$1" "$BIN" >/dev/null
}
run_umoci() {
  local l=$T/umoci-$1
  umoci init --layout "$l" &&
    umoci new --image "$l:x" &&
    umoci insert --image "$l:x" "$BIN" /ko-app/server >/dev/null &&
    umoci config --image "$l:x" --config.entrypoint /ko-app/server &&
    umoci gc --layout "$l" &&
    skopeo copy -q --dest-tls-verify=false "oci:$l:x" "docker://$R/$1/server:latest"
}
run_buildah() {
  local c
  c=$("${BUILDAH[@]}" from -q scratch) &&
    "${BUILDAH[@]}" copy -q "$c" "$BIN" /ko-app/server >/dev/null &&
    "${BUILDAH[@]}" config --entrypoint '["/ko-app/server"]' "$c" &&
    "${BUILDAH[@]}" commit -q "$c" "bench-$1" >/dev/null &&
    "${BUILDAH[@]}" push -q --tls-verify=false "bench-$1" "docker://$R/$1/server:latest" &&
    echo "$c" >"$T/buildah-last"
}
reset_after() { # PIPELINE REPO
  case "$1" in
    umoci) rm -rf "$T/umoci-$2" ;;
    kofarm) rm -rf "$T/kfcache-$2" ;;
    buildah)
      "${BUILDAH[@]}" rm "$(cat "$T/buildah-last" 2>/dev/null)" >/dev/null 2>&1
      "${BUILDAH[@]}" rmi -f "bench-$2" >/dev/null 2>&1 ;;
  esac
}

PIPES=(kofarm umoci buildah)
declare -A TIMES=()
# One untimed warm-up of each (page cache, first-run set-up of buildah's store).
for p in "${PIPES[@]}"; do
  "run_$p" "warm-$p" || die "$p pipeline failed"
  verify_pushed "$R/warm-$p/server:latest" || die "$p pushed nothing"
  reset_after "$p" "warm-$p"
done

for ((i = 0; i < ROUNDS; i++)); do
  for ((k = 0; k < ${#PIPES[@]}; k++)); do
    p=${PIPES[$(((i + k) % ${#PIPES[@]}))]}
    repo="cold-$p-$i"
    t0=$(now_ns)
    "run_$p" "$repo" || die "$p pipeline failed in round $i"
    t1=$(now_ns)
    TIMES[$p]+="$(((t1 - t0) / 1000)) "
    reset_after "$p" "$repo"
    # Untimed: the previous run's dirty pages (buildah writes hundreds of MB)
    # go to disk now, not during the next pipeline's timed run.
    sync
  done
done

# Unchanged binary again: same repository, every blob already there, kofarm's
# local layer cache warm (as on a developer's machine between two builds).
KOFARM_CACHE_DIR=$T/kfcache-again KO_DEFAULTBASEIMAGE=scratch \
  "$KOFARM" containerize -q --name server -B --repo "$R/again" "$BIN" >/dev/null || die "kofarm failed"
again=""
for ((i = 0; i < ROUNDS; i++)); do
  t0=$(now_ns)
  KOFARM_CACHE_DIR=$T/kfcache-again KO_DEFAULTBASEIMAGE=scratch \
    "$KOFARM" containerize -q --name server -B --repo "$R/again" "$BIN" >/dev/null || die "kofarm failed"
  t1=$(now_ns)
  again+="$(((t1 - t0) / 1000)) "
done

# Same digest every time: the cold kofarm runs must all have pushed one image.
d1=$(skopeo inspect --raw --tls-verify=false "docker://$R/cold-kofarm-0/server:latest" | sha256sum)
d2=$(skopeo inspect --raw --tls-verify=false "docker://$R/again/server:latest" | sha256sum)
[ "$d1" = "$d2" ] || echo "warning: kofarm pushed different manifests for the same binary" >&2

printf '%-34s %6s %10s %10s %10s\n' "binary -> pushed manifest" runs "median ms" "min ms" "max ms"
for p in "${PIPES[@]}"; do
  label=$p
  case "$p" in
    kofarm) label="kofarm containerize (cold)" ;;
    umoci) label="umoci + skopeo copy (cold)" ;;
    buildah) label="buildah vfs (cold)" ;;
  esac
  print_row "$label" ${TIMES[$p]}
done
print_row "kofarm, unchanged binary again" $again

kf_med=$(median ${TIMES[kofarm]})
um_med=$(median ${TIMES[umoci]})
bu_med=$(median ${TIMES[buildah]})
again_med=$(median $again)
peer=$um_med peer_name=umoci+skopeo
if [ "$bu_med" -lt "$um_med" ]; then peer=$bu_med peer_name=buildah; fi
echo
printf 'cold:  kofarm / %s (faster peer) = %s   (target <= 0.5)\n' "$peer_name" "$(ratio "$kf_med" "$peer")"
printf 'again: kofarm / %s cold median   = %s   (target <= 0.1)\n' "$peer_name" "$(ratio "$again_med" "$peer")"
