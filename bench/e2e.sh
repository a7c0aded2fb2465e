#!/usr/bin/env bash
# Benchmark: a build through the whole service, warm caches. A git repository
# of the example module gets a one-line change per round (the greeting
# string of cmd/server); each round POSTs a build of the new commit, follows
# the log until the job ends and reads the result: the wall time the API
# user sees. The peer is a bare `go build` of the same change in its own
# warm checkout (no image, no push). Then the same commit is POSTed again:
# the result is reused (target < 50 ms). Not a test: nothing is asserted.
#   bench/e2e.sh [ROUNDS]      (default 10; target ratio <= 1.3)
set -uo pipefail
ROUNDS=${1:-10}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"

need_tools kofarm git go psql
[ -x "$KOFARM_SERVER" ] || die "no kofarm-server at $KOFARM_SERVER"
[ -x "$KOFARM_WORKER" ] || die "no kofarm-worker at $KOFARM_WORKER"
start_postgres
start_registry
R=$REGISTRY
make_base "$R/base/seed:latest" linux/amd64 --user 65532 || die "cannot seed the base image"
"$KOFARM_SERVER" migrate >/dev/null 2>&1 || die "migrate failed"
CONF=(KOFARM_ALLOW_FILE_URLS=1 KOFARM_REPO="$R/e2e" KOFARM_DEFAULT_BASE_IMAGE="$BASE_OUT")
start_server "${CONF[@]}"
start_worker "${CONF[@]}" KOFARM_CONCURRENCY=1
TOKEN=$(new_token bench admin)

SRC=$T/src
copy_fixture "$SRC"
git -C "$SRC" init -q -b main
git -C "$SRC" -c user.name=bench -c user.email=bench@example.com add -A
git -C "$SRC" -c user.name=bench -c user.email=bench@example.com commit -qm init
BARE=$T/bare
copy_fixture "$BARE"
export GOCACHE=$T/bare-gocache
bare_build() { (cd "$BARE" && CGO_ENABLED=0 go build -trimpath -o "$T/bare-bin" ./cmd/server); }


# submit COMMIT: POSTs the build, follows its log to the end, reads the job;
# prints its final state.
submit() {
  local id
  id=$(curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
       --data "{\"source\":{\"git\":{\"url\":\"file://$SRC\",\"commit\":\"$1\"}},\"importpaths\":[\"./cmd/server\"],\"platforms\":[\"linux/amd64\"]}" \
       "$SERVER_URL/v1/builds" | jq -r .id)
  curl -s -H "Authorization: Bearer $TOKEN" "$SERVER_URL/v1/builds/$id/log?follow=1" >/dev/null
  curl -s -H "Authorization: Bearer $TOKEN" "$SERVER_URL/v1/builds/$id" | jq -r .state
}

# Warm both sides: the worker's mirror, Go caches and base; the bare cache.
st=$(submit "$(git -C "$SRC" rev-parse HEAD)")
[ "$st" = succeeded ] || die "warm-up build ended $st: $(tail -5 "$T/worker-0.log")"
bare_build || die "bare go build failed"

# The timed rounds run in one Python process (bench/e2e_rounds.py): curl
# and jq per request would add their own start-up to every figure.
api_us=()
bare_us=()
reuse_us=()
while read -r kind us; do
  case "$kind" in
    api) api_us+=("$us") ;;
    bare) bare_us+=("$us") ;;
    reuse) reuse_us+=("$us") ;;
  esac
done < <(SERVER_URL=$SERVER_URL TOKEN=$TOKEN SRC=$SRC BARE=$BARE BARE_OUT=$T/bare-bin ROUNDS=$ROUNDS \
  python3 "$HERE/e2e_rounds.py")
[ "${#api_us[@]}" = "$ROUNDS" ] && [ "${#reuse_us[@]}" = "$ROUNDS" ] || die "the timed rounds failed"

printf 'example server, linux/amd64, warm caches, one-line change per round, %s rounds\n\n' "$ROUNDS"
printf '%-34s %6s %10s %10s %10s\n' "" runs "median ms" "min ms" "max ms"
print_row "API build (POST -> succeeded)" "${api_us[@]}"
print_row "bare go build of the change" "${bare_us[@]}"
print_row "same commit again (reused)" "${reuse_us[@]}"
echo
printf 'API build / bare go build = %s   (target <= 1.3)\n' \
  "$(ratio "$(median "${api_us[@]}")" "$(median "${bare_us[@]}")")"
printf 'result reuse: %s ms   (target < 50 ms)\n' "$(ms "$(median "${reuse_us[@]}")")"
