#!/usr/bin/env bash
# The worker's git source over real smart HTTP (git-http-backend behind HTTP
# Basic auth, lib.sh start_git_http), with the server in front: a build from
# http://USER:PASS@host/repo.git succeeds and is pushed; the password shows
# nowhere (job logs, error messages, the API's job JSON and log, worker and
# server logs); a wrong password and no credentials fail at once, once, as
# source_auth_failed; a ref starting with '-' and a URL with a space are
# refused at submit.
. "$(dirname "$0")/lib.sh"
need_kofarm
for bin in "$KOFARM_SERVER" "$KOFARM_WORKER"; do
  if [ ! -x "$bin" ]; then
    fail "$(basename "$bin") exists at $bin" "build it first (scripts/build.sh)"
    finish
  fi
done

SHA='sha256:[0-9a-f]{64}'
GIT_USER=kfgit
GIT_PASS=pw-$(md5_of "$$-$RANDOM" | cut -c1-20)
WRONG_PASS=wrong-$(md5_of "w-$$-$RANDOM" | cut -c1-20)

chmod 711 "$T" # the postgres user must reach $T/pg
start_postgres
"$KOFARM_WORKER" migrate >/dev/null 2>&1 || { fail "migrate"; finish; }

start_registry
make_base "$REGISTRY/base/seed:latest" linux/amd64 || { fail "seed the base image"; finish; }
BASE=$REGISTRY/base/seed:latest
REPO=$REGISTRY/gh

# The fixture as a bare repository served over HTTP.
SRC=$T/src
copy_fixture "$SRC"
git -C "$SRC" init -q -b main
git -C "$SRC" -c user.name=t -c user.email=t@example.com add -A
git -C "$SRC" -c user.name=t -c user.email=t@example.com commit -q -m init
COMMIT=$(git -C "$SRC" rev-parse HEAD)
mkdir -p "$T/git"
git clone -q --bare "$SRC" "$T/git/hello.git"
start_git_http "$T/git" "$GIT_USER:$GIT_PASS"
HOSTPORT=${GIT_HTTP#http://}
GOOD_URL=http://$GIT_USER:$GIT_PASS@$HOSTPORT/hello.git

# The server itself, checked with git alone.
out=$(GIT_TERMINAL_PROMPT=0 git ls-remote "$GOOD_URL" refs/heads/main 2>&1)
assert_eq "git ls-remote with the password sees main" "$COMMIT	refs/heads/main" "$out"
out=$(GIT_TERMINAL_PROMPT=0 git ls-remote "$GIT_HTTP/hello.git" 2>&1)
assert_contains "git ls-remote without credentials is refused" "could not read Username" "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' -D "$T/h401" "$GIT_HTTP/hello.git/info/refs?service=git-upload-pack")
assert_eq "no Authorization: 401" 401 "$code"
assert_match "401 carries a Basic challenge" 'WWW-Authenticate: Basic realm=' "$(cat "$T/h401")"
code=$(curl -s -o /dev/null -w '%{http_code}' -u "$GIT_USER:$WRONG_PASS" "$GIT_HTTP/hello.git/info/refs?service=git-upload-pack")
assert_eq "wrong password: 401" 401 "$code"

SVC_ENV=(KOFARM_REPO="$REPO" KOFARM_DEFAULT_BASE_IMAGE="$BASE")
start_server "${SVC_ENV[@]}"
TOKEN=$(new_token githttp)
start_worker "${SVC_ENV[@]}" KOFARM_LEASE_MS=2000
for i in $(seq 1 200); do
  grep -q ' ready: ' "$T/worker-0.log" 2>/dev/null && break
  sleep 0.05
done

# submit URL [REF]: POST /v1/builds of ./cmd/app; sets HTTP_CODE, BODY, ID.
submit() {
  local body
  body=$(jq -cn --arg url "$1" --arg ref "${2:-main}" \
    '{source: {git: {url: $url, ref: $ref}}, importpaths: ["./cmd/app"], platforms: ["linux/amd64"], no_cache: true}')
  api POST /v1/builds -H 'Content-Type: application/json' --data-binary "$body"
  ID=$(jq -r '.id // empty' <<<"$BODY" 2>/dev/null)
}
# no_secret NAME SECRET TEXT: TEXT does not hold SECRET (a failure shows only the lines that do).
no_secret() {
  if [[ "$3" != *"$2"* ]]; then pass "$1"; else fail "$1" "$(grep -F -- "$2" <<<"$3" | head -3 | cut -c1-300)"; fi
}

# ---- a build over HTTP with the password in the URL
submit "$GOOD_URL"
assert_eq "submit with credentials: 202" 202 "$HTTP_CODE"
no_secret "password: not in the POST answer" "$GIT_PASS" "$BODY"
GOOD=$ID
state=$(wait_done "$GOOD" 120)
assert_eq "http build succeeds" succeeded "$state"
[ "$state" = succeeded ] || log "$(field "$GOOD" "error_code || ': ' || error_message")" "$(tail -20 "$T/worker-0.log")"
res=$(field "$GOOD" result)
ref=$(jq -r '.images[0].reference' <<<"$res")
assert_match "result reference" "^$REPO/app-[0-9a-f]{32}@$SHA\$" "$ref"
assert_eq "result commit" "$COMMIT" "$(jq -r .commit <<<"$res")"
assert_eq "skopeo: pushed digest = result digest" "$(jq -r '.images[0].digest' <<<"$res")" "$(raw_digest "$ref")"
assert_eq "one attempt" 1 "$(field "$GOOD" attempts)"
assert_contains "log: cloned over http, password hidden" "cloning http://***@$HOSTPORT/hello.git" "$(job_log "$GOOD")"
assert_match "git server saw authenticated requests" 'POST /hello.git/git-upload-pack HTTP/1.1" 200' "$(cat "$GIT_HTTP_LOG")"

# ---- wrong password: fails at once, once, source_auth_failed
submit "http://$GIT_USER:$WRONG_PASS@$HOSTPORT/hello.git"
WRONG=$ID
state=$(wait_done "$WRONG" 30)
assert_eq "wrong password: fails (no prompt, no hang)" failed "$state"
assert_eq "wrong password: one attempt, not retried" "1 failed" "$(field "$WRONG" "attempts || ' ' || state")"
assert_eq "wrong password: code" source_auth_failed "$(field "$WRONG" error_code)"
msg=$(field "$WRONG" error_message)
assert_contains "wrong password: the message says so" "Authentication failed" "$msg"
assert_not_contains "wrong password: not in the message" "$WRONG_PASS" "$msg"

# ---- no credentials for a server that wants them: the same
submit "$GIT_HTTP/hello.git"
NONE=$ID
state=$(wait_done "$NONE" 30)
assert_eq "no credentials: fails (no prompt, no hang)" failed "$state"
assert_eq "no credentials: one attempt, not retried" "1 failed" "$(field "$NONE" "attempts || ' ' || state")"
assert_eq "no credentials: code" source_auth_failed "$(field "$NONE" error_code)"
assert_contains "no credentials: the message says so" "could not read Username" "$(field "$NONE" error_message)"

# ---- the passwords show nowhere
api_json=$(for id in "$GOOD" "$WRONG" "$NONE"; do api GET "/v1/builds/$id"; printf '%s\n' "$BODY"; done)
api GET "/v1/builds?limit=10"
assert_contains "GET /v1/builds lists the jobs" "\"id\":$GOOD," "$BODY"
api_json+=$'\n'$BODY
api_logs=$(for id in "$GOOD" "$WRONG" "$NONE"; do api GET "/v1/builds/$id/log"; printf '%s\n' "$BODY"; done)
assert_contains "the API's job JSON was read" "\"commit\":\"$COMMIT\"" "$api_json"
assert_contains "the API's logs were read" "Checked out $COMMIT" "$api_logs"
for pw in "$GIT_PASS" "$WRONG_PASS"; do
  what=password; [ "$pw" = "$WRONG_PASS" ] && what="wrong password"
  no_secret "$what: not in job_logs" "$pw" "$(psql_q "SELECT line FROM job_logs")"
  no_secret "$what: not in jobs.error_message" "$pw" "$(psql_q "SELECT error_message FROM jobs")"
  no_secret "$what: not in GET /v1/builds/{id}" "$pw" "$api_json"
  no_secret "$what: not in GET /v1/builds/{id}/log" "$pw" "$api_logs"
  no_secret "$what: not in the worker's log" "$pw" "$(cat "$T/worker-0.log")"
  no_secret "$what: not in the server's log" "$pw" "$(cat "$T/server.log")"
done
assert_eq "the stored spec keeps the password for the worker" "$GOOD_URL" "$(field "$GOOD" "spec #>> '{source,git,url}'")"
api GET "/v1/builds/$GOOD"
assert_eq "API job JSON shows the URL with the password hidden" "http://***@$HOSTPORT/hello.git" \
  "$(jq -r .spec.source.git.url <<<"$BODY")"

# ---- refused at submit: a ref starting with '-', a URL with a space
n0=$(psql_q "SELECT count(*) FROM jobs")
submit "$GOOD_URL" "-oProxyCommand=x"
assert_eq "ref starting with '-': 400" 400 "$HTTP_CODE"
assert_contains "ref starting with '-': says why" "must not start with '-'" "$(jq -r .error.message <<<"$BODY")"
submit "http://$GIT_USER:$GIT_PASS@$HOSTPORT/hello .git"
assert_eq "URL with a space: 400" 400 "$HTTP_CODE"
assert_contains "URL with a space: says why" "whitespace" "$(jq -r .error.message <<<"$BODY")"
assert_not_contains "URL with a space: the password is not echoed" "$GIT_PASS" "$BODY"
assert_eq "nothing was queued by the refused requests" "$n0" "$(psql_q "SELECT count(*) FROM jobs")"

finish
