#!/usr/bin/env bash
# kofarm --server: the CLI against a real kofarm-server, kofarm-worker,
# PostgreSQL and docker-registry. A remote build prints the same reference
# a local `kofarm build` prints for the same source and options (the
# builds are reproducible), uploads honour .kofarmignore, --git builds a
# repository, failures and cancellations (Ctrl-C and `kofarm cancel`) end
# with a clear message and the right exit code, status/logs show a build,
# and a missing token or a bad server URL is a clear error.
. "$(dirname "$0")/lib.sh"
need_kofarm
# lib.sh names the server binary KOFARM_SERVER; kofarm itself reads
# $KOFARM_SERVER as a URL, so it must never see that one.
export -n KOFARM_SERVER
unset KOFARM_TOKEN
for bin in "$KOFARM_SERVER" "$KOFARM_WORKER"; do
  if [ ! -x "$bin" ]; then
    fail "binary exists: $bin" "build kofarm-server and kofarm-worker first (scripts/build.sh)"
    finish
  fi
done

SHA='sha256:[0-9a-f]{64}'
APP=example.com/hello/cmd/app
APP_MD5=$(md5_of "$APP")
GREETING=$'hello from kofarm\nhi from kodata'
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
export GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z

start_registry
R=$REGISTRY
make_base "$R/base/seed:latest" linux/amd64,linux/arm64 --user 65532 \
  --env PATH=/usr/local/bin:/usr/bin:/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt ||
  { fail "seed the base image"; finish; }
BASE=$R/base/seed:latest

start_postgres
if ! "$KOFARM_SERVER" migrate >"$T/migrate.log" 2>&1; then
  fail "kofarm-server migrate" "$(tail -5 "$T/migrate.log")"
  finish
fi
start_server KOFARM_ALLOW_FILE_URLS=1 KOFARM_REPO="$R/remote" KOFARM_DEFAULT_BASE_IMAGE="$BASE"
WORKER_ENV=(KOFARM_REPO="$R/remote" KOFARM_DEFAULT_BASE_IMAGE="$BASE" KOFARM_INSECURE_REGISTRIES="$R"
            KOFARM_ALLOW_FILE_URLS=1)
start_worker "${WORKER_ENV[@]}"
TOKEN=$(new_token cli-remote-test admin)
assert_match "a token was made" '^[^[:space:]]+$' "$TOKEN"
S=$SERVER_URL

# The source: a copy outside any git repository, so neither the local nor
# the remote build stamps VCS facts into the binary.
W=$T/src/hello
copy_fixture "$W"

# rk ARGS...: kofarm against the server with the token (from $W unless kf_in is used).
rk() { kf_in "$W" --server "$S" --token "$TOKEN" "$@"; }
# The build id announced on stderr.
build_id() { sed -n 's/^submitted build \([A-Za-z0-9_-]*\)$/\1/p' <<<"$1" | head -n1; }

# ---- a remote build = the local build of the same source and options
rk build --platform=linux/amd64 ./cmd/app
assert_kf_ok "remote build ./cmd/app"
assert_match "prints REPO/app-md5@digest (the worker's KOFARM_REPO)" "^$R/remote/app-$APP_MD5@$SHA\$" "$KF_OUT"
REMOTE_REF=$KF_OUT
ID=$(build_id "$KF_ERR")
assert_match "stderr says: submitted build N" '^[A-Za-z0-9_-]+$' "$ID"
assert_eq "the printed digest is what the registry serves" "${REMOTE_REF#*@}" "$(raw_digest "$REMOTE_REF")"
assert_ok "skopeo inspect confirms the reference" skopeo inspect --tls-verify=false "docker://$REMOTE_REF"
run_image "$REMOTE_REF" linux/amd64
assert_eq "the remote image runs and reads its kodata" "0:$GREETING" "$RUN_RC:$RUN_OUT"
KO_DOCKER_REPO=$R/remote KO_DEFAULTBASEIMAGE=$BASE kf_in "$W" build --platform=linux/amd64 ./cmd/app
assert_kf_ok "local build of the same source"
assert_eq "remote reference = local reference (reproducible)" "$KF_OUT" "$REMOTE_REF"

# Same options, other spellings and working directories.
kf_in "$W/cmd/app" --server "$S" --token "$TOKEN" build --platform=linux/amd64 .
assert_eq "'.' inside cmd/app is rewritten relative to the module root" "$REMOTE_REF" "$KF_OUT"
kf_in "$W/pkg" --server "$S" --token "$TOKEN" build --platform=linux/amd64 ../cmd/app
assert_eq "'../cmd/app' from pkg/" "$REMOTE_REF" "$KF_OUT"
KOFARM_SERVER=$S KOFARM_TOKEN=$TOKEN kf_in "$W" build --platform=linux/amd64 "$APP"
assert_eq "KOFARM_SERVER and KOFARM_TOKEN from the environment, full import path" "$REMOTE_REF" "$KF_OUT"
rk publish --platform=linux/amd64 ./cmd/app
assert_eq "publish is build" "$REMOTE_REF" "$KF_OUT"

# Options reach the worker: naming, tags, labels, annotations, platforms, repo.
rk build -B -t v1 --image-label team=core --image-annotation org.example.note=hi \
  --platform=linux/amd64,linux/arm64 --repo "$R/opts" ./cmd/app ./cmd/server
assert_kf_ok "remote build with options, two import paths"
assert_match "two references in argument order (-B, one tag: NAME:TAG@digest)" \
  "^$R/opts/app:v1@$SHA"$'\n'"$R/opts/server:v1@$SHA\$" "$KF_OUT"
OPTS_OUT=$KF_OUT
KO_DEFAULTBASEIMAGE=$BASE kf_in "$W" build -B -t v1 --image-label team=core --image-annotation org.example.note=hi \
  --platform=linux/amd64,linux/arm64 --repo "$R/opts" ./cmd/app ./cmd/server
assert_eq "the same options locally: the same references" "$KF_OUT" "$OPTS_OUT"
first=$(head -n1 <<<"$OPTS_OUT")
assert_eq "tag v1 pushed" "${first#*@}" "$(raw_digest "$R/opts/app:v1")"
assert_eq "an index of two platforms" "linux/amd64 linux/arm64" \
  "$(verify_image "${first%%:v1@*}@${first#*@}" | jq -r '[.manifests[].platform | .os + "/" + .architecture] | join(" ")')"
assert_eq "label in the config" "core" "$(image_config "${first%%:v1@*}@${first#*@}" | jq -r '.config.Labels.team')"
rk build -P --platform=linux/amd64 ./cmd/app
assert_match "-P: REPO/import/path" "^$R/remote/$APP@$SHA\$" "$KF_OUT"
rk build --bare --platform=linux/amd64 --repo "$R/bare" ./cmd/app
assert_match "--bare: REPO" "^$R/bare@$SHA\$" "$KF_OUT"
rk build --platform=linux/amd64 --image-refs "$T/refs.txt" -q ./cmd/app
assert_eq "--image-refs writes the references" "$REMOTE_REF" "$(cat "$T/refs.txt")"
assert_not_contains "-q: no upload chatter" "uploading" "$KF_ERR"

# ---- status and logs
rk status "$ID"
assert_kf_ok "status ID"
assert_contains "status: the state" "build $ID: succeeded" "$KF_OUT"
assert_contains "status: the reference" "$REMOTE_REF" "$KF_OUT"
rk status --json "$ID"
assert_eq "status --json: the job as JSON" "succeeded" "$(jq -r .state <<<"$KF_OUT" 2>/dev/null)"
assert_eq "status --json: the result's reference" "$REMOTE_REF" "$(jq -r '.result.images[0].reference' <<<"$KF_OUT" 2>/dev/null)"
rk logs "$ID"
assert_kf_ok "logs ID"
assert_ne "logs: the build's log is not empty" "" "$KF_OUT"
rk logs -f "$ID"
assert_kf_ok "logs -f of a finished build ends"
rk status 999999999
assert_kf_fails "status of a build that does not exist" 1 '.'
rk status 'x/../1'
assert_kf_fails "status of a malformed id" 2 'not a build id'

# ---- .kofarmignore: what it lists is not uploaded
echo "not for the image" >"$W/cmd/app/kodata/secret.txt"
rk build --platform=linux/amd64 ./cmd/app
assert_ne "an extra kodata file changes the image" "$REMOTE_REF" "$KF_OUT"
printf '# local only\ncmd/app/kodata/secret.txt\n' >"$W/.kofarmignore"
rk build --platform=linux/amd64 ./cmd/app
assert_eq ".kofarmignore leaves it out: the original image again" "$REMOTE_REF" "$KF_OUT"
rm -f "$W/.kofarmignore" "$W/cmd/app/kodata/secret.txt"
mkdir -p "$W/build" "$W/.git"
head -c 100000 /dev/urandom >"$W/build/big.bin"
echo "ref: refs/heads/x" >"$W/.git/HEAD"
rk build --platform=linux/amd64 ./cmd/app
assert_eq "build/ and .git are never uploaded" "$REMOTE_REF" "$KF_OUT"
rm -rf "$W/build" "$W/.git"

# ---- --git: a repository by URL (file:// allowed on this worker) = a local clone
G=$T/git/origin
copy_fixture "$G"
git -C "$G" init -q -b main && git -C "$G" add -A && git -C "$G" commit -q -m fixture
COMMIT=$(git -C "$G" rev-parse HEAD)
kf_in "$T" --server "$S" --token "$TOKEN" build --git "file://$G" --ref main --platform=linux/amd64 ./cmd/app
assert_kf_ok "--git URL --ref main"
assert_match "--git: a reference" "^$R/remote/app-$APP_MD5@$SHA\$" "$KF_OUT"
GIT_REF=$KF_OUT
kf_in "$T" --server "$S" --token "$TOKEN" build --git "file://$G" --commit "$COMMIT" --platform=linux/amd64 ./cmd/app
assert_eq "--git URL --commit SHA: the same image" "$GIT_REF" "$KF_OUT"
git clone -q "$G" "$T/git/clone"
KO_DOCKER_REPO=$R/remote KO_DEFAULTBASEIMAGE=$BASE kf_in "$T/git/clone" build --platform=linux/amd64 ./cmd/app
assert_eq "--git build = local build of a clone at that commit" "$KF_OUT" "$GIT_REF"
kf_in "$T" --server "$S" --token "$TOKEN" build --git "file://$G" --ref no-such-branch ./cmd/app
assert_kf_fails "--git with a ref that does not exist" 1 'no-such-branch'
rk build --ref main ./cmd/app
assert_kf_fails "--ref without --git" 2 'need --git'

# ---- a failing build: exit 1, the compiler's message, nothing on stdout
rk build --platform=linux/amd64 ./cmd/broken
assert_kf_fails "a build that does not compile" 1 'build [A-Za-z0-9_-]+ failed'
assert_contains "the compiler's message reaches the user" "main.go:7" "$KF_ERR"
rk build --platform=linux/amd64 ./cmd/nope
assert_kf_fails "a package that does not exist" 1 'cmd/nope'

# ---- cancel: with no worker running, a build stays queued
kill "${WORKER_PIDS[0]}" 2>/dev/null
wait "${WORKER_PIDS[0]}" 2>/dev/null

# wait_submitted FILE: the build id once FILE says "submitted build N" (10 s at most).
wait_submitted() {
  local id
  for _ in $(seq 1 100); do
    id=$(build_id "$(cat "$1" 2>/dev/null)")
    if [ -n "$id" ]; then echo "$id"; return 0; fi
    sleep 0.1
  done
  return 1
}

# Ctrl-C: the CLI cancels the remote build and exits 130.
(cd "$W" && exec "$KOFARM" --server "$S" --token "$TOKEN" build --no-cache ./cmd/server) \
  >"$T/int.out" 2>"$T/int.err" &
pid=$!
CID=$(wait_submitted "$T/int.err")
assert_match "background build submitted" '^[A-Za-z0-9_-]+$' "$CID"
sleep 0.5
kill -INT "$pid"
wait "$pid"
assert_eq "Ctrl-C: exit 130" "130" "$?"
assert_contains "Ctrl-C: says it canceled the build" "canceled build $CID" "$(cat "$T/int.err")"
assert_eq "Ctrl-C: nothing on stdout" "" "$(cat "$T/int.out")"
rk status --json "$CID"
assert_eq "Ctrl-C: the server's job is canceled" "canceled" "$(jq -r .state <<<"$KF_OUT" 2>/dev/null)"

# kofarm cancel ID from elsewhere: the waiting CLI ends with exit 1 and says so.
(cd "$W" && exec "$KOFARM" --server "$S" --token "$TOKEN" build --no-cache ./cmd/app) \
  >"$T/c.out" 2>"$T/c.err" &
pid=$!
CID2=$(wait_submitted "$T/c.err")
rk cancel "$CID2"
assert_kf_ok "cancel ID"
assert_eq "cancel prints the state" "build $CID2: canceled" "$KF_OUT"
wait "$pid"
assert_eq "the waiting CLI exits 1" "1" "$?"
assert_match "the waiting CLI says the build was canceled" "kofarm: build $CID2 was canceled" "$(cat "$T/c.err")"
rk cancel "$ID"
assert_kf_fails "cancel of a finished build" 1 '.'

# ---- bad credentials and servers
kf_in "$W" --server "$S" build ./cmd/app
assert_kf_fails "no token: a clear error" 1 'no token given.*KOFARM_TOKEN'
kf_in "$W" --server "$S" --token not-a-real-token build ./cmd/app
assert_kf_fails "a wrong token: a clear error" 1 'refused the token'
KOFARM_TOKEN=not-a-real-token kf_in "$W" --server "$S" status "$ID"
assert_kf_fails "a wrong token for status" 1 'token'
kf_in "$W" --server "http://127.0.0.1:$(free_port)" --token "$TOKEN" build ./cmd/app
assert_kf_fails "nothing listens at the server URL" 1 'cannot reach the kofarm server'
kf_in "$W" --server "ftp://$SERVER_URL" --token "$TOKEN" build ./cmd/app
assert_kf_fails "not an http URL" 2 'not an http'
kf_in "$W" --server "http://user:pw@127.0.0.1:1" build ./cmd/app
assert_kf_fails "credentials in the URL" 2 'must not have credentials'
kf_in "$W" --server "http://$R" --token "$TOKEN" build ./cmd/app
assert_kf_fails "a server that is not kofarm" 1 'a kofarm server'
kf_in "$W" status 1
assert_kf_fails "status without a server" 2 'no server'
kf_in "$T" --server "$S" --token "$TOKEN" build ./cmd/app
assert_kf_fails "outside a Go module" 1 'no go\.mod'
rk build --tarball "$T/x.tar" ./cmd/app
assert_kf_fails "a local-only flag" 2 'only for local builds'
rk build ../../../etc
assert_kf_fails "an import path that leaves the module" 1 'outside the module'
kf --server "$S" containerize --name x /bin/true
assert_kf_fails "containerize is local only" 2 'locally only'
kf --help
assert_contains "--help documents remote mode" "kofarm --server URL build" "$KF_OUT"

finish
