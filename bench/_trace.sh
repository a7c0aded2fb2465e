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

change() { # N: the one-line change, in both trees
  sed -i "s/greeting := \"hello from kofarm[^\"]*\"/greeting := \"hello from kofarm $1\\\\n\"/" \
    "$SRC/cmd/server/main.go" "$BARE/cmd/server/main.go"
  git -C "$SRC" -c user.name=bench -c user.email=bench@example.com commit -qam "round $1"
  git -C "$SRC" rev-parse HEAD
}

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
for i in 1 2 3; do
commit=$(change "t$i")
sleep 0.3
echo "MARK $(date +%H:%M:%S.%N)" 
t0=$(now_ns)
st=$(submit "$commit")
t1=$(now_ns)
echo "round $i $st $(((t1 - t0) / 1000)) us"
done
