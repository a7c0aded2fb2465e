#!/usr/bin/env bash
# Runs an image's entrypoint on this machine without a container engine:
# pulls REF with skopeo, extracts its layers in order into a rootfs and
# chroots into it with the image config's Env (plus PORT when set) and user
# 0. For a quick look at what kofarm built; not an isolation boundary.
#   scripts/run-image.sh REF [ARGS...]
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: scripts/run-image.sh REF [ARGS...]" >&2
  exit 2
fi
ref=$1
shift
[ "$(id -u)" -eq 0 ] || { echo "run-image.sh: chroot needs root" >&2; exit 1; }

case "$(uname -m)" in
  x86_64) arch=amd64 variant="" ;;
  aarch64) arch=arm64 variant="" ;;
  armv7l) arch=arm variant=v7 ;;
  *) echo "run-image.sh: unsupported host $(uname -m)" >&2; exit 1 ;;
esac

host=${ref%%/*}
tls=()
case "$host" in
  127.*|localhost|localhost:*|\[::1\]*) tls=(--src-tls-verify=false) ;;
esac

dir=$(mktemp -d "${TMPDIR:-/tmp}/kofarm-run.XXXXXX")
child=""
cleanup() {
  if [ -n "$child" ]; then kill "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

skopeo copy -q --all "${tls[@]}" "docker://$ref" "oci:$dir/layout:x" >&2
blob() { echo "$dir/layout/blobs/${1%%:*}/${1#*:}"; }
desc=$(jq -c '.manifests[0]' "$dir/layout/index.json")
digest=$(jq -r .digest <<<"$desc")
case "$(jq -r .mediaType <<<"$desc")" in
  *index*|*manifest.list*)
    digest=$(jq -r --arg a "$arch" --arg v "$variant" \
      '[.manifests[] | select(.platform.os == "linux" and .platform.architecture == $a and ((.platform.variant // "") == $v or $v == ""))][0].digest // empty' \
      "$(blob "$digest")")
    [ -n "$digest" ] || { echo "run-image.sh: $ref has no linux/$arch image" >&2; exit 1; } ;;
esac
manifest=$(blob "$digest")
config=$(blob "$(jq -r .config.digest "$manifest")")
mkdir "$dir/rootfs"
for layer in $(jq -r '.layers[].digest' "$manifest"); do
  # (GNU tar's note about stripping a leading "/" is noise here.)
  tar -xf "$(blob "$layer")" -C "$dir/rootfs" 2>"$dir/tar.err" || { cat "$dir/tar.err" >&2; exit 1; }
done
mapfile -t entry < <(jq -r '(.config.Entrypoint // []) + (.config.Cmd // []) | .[]' "$config")
mapfile -t env < <(jq -r '.config.Env // [] | .[]' "$config")
[ -z "${PORT:-}" ] || env+=("PORT=$PORT")
[ ${#entry[@]} -gt 0 ] || { echo "run-image.sh: $ref has no entrypoint" >&2; exit 1; }
echo "run-image.sh: running ${entry[*]} $* from $ref" >&2
env -i "${env[@]}" "$(command -v chroot)" "$dir/rootfs" "${entry[@]}" "$@" &
child=$!
rc=0
wait "$child" || rc=$?
child=""
exit "$rc"
