#!/usr/bin/env bash
# kofarm-server against a private PostgreSQL: every endpoint and error
# code with curl, uploads (good and hostile), idempotency, pagination,
# cancel/retry, log follow, metrics, result reuse at submit, a kill -9 of
# the server while jobs are posted, and a PostgreSQL restart under it. No
# worker runs here: jobs stay queued unless a test moves them with SQL.
. "$(dirname "$0")/lib.sh"

if [ ! -x "$KOFARM_SERVER" ]; then
  fail "kofarm-server exists at $KOFARM_SERVER" "build it first (scripts/build.sh)"
  finish
fi
# The postgres user must reach the cluster directory inside $T.
[ "$(id -u)" = 0 ] && chmod 711 "$T"
start_postgres

SHA=0123456789abcdef0123456789abcdef01234567
GOOD='{"source":{"git":{"url":"https://example.com/r.git","ref":"main"}},"importpaths":["./cmd/app"]}'

# post_json BODY [curl args...]: POST /v1/builds with a JSON body.
post_json() {
  local body=$1
  shift
  api POST /v1/builds -H 'Content-Type: application/json' --data-binary "$body" "$@"
}
jobs_count() { psql_q "SELECT count(*) FROM jobs"; }
err_code() { jq -r '.error.code // empty' <<<"$BODY" 2>/dev/null; }
err_msg() { jq -r '.error.message // empty' <<<"$BODY" 2>/dev/null; }

# ---------------------------------------------------------------- migrate, start, tokens

out=$("$KOFARM_SERVER" migrate 2>&1)
assert_match "first migrate applies something" '^applied [1-9][0-9]* migration' "$out"
out=$("$KOFARM_SERVER" migrate 2>&1)
assert_eq "second migrate applies nothing" "applied 0 migrations" "$out"
out=$("$KOFARM_SERVER" --help)
for v in KOFARM_DATABASE_URL KOFARM_LISTEN KOFARM_REPO KOFARM_DEFAULT_BASE_IMAGE KOFARM_PUBLIC_READ \
         KOFARM_ALLOW_FILE_URLS KOFARM_SHARE_DIR KOFARM_MAX_UPLOAD; do
  assert_contains "--help documents $v" "$v" "$out"
done
"$KOFARM_SERVER" --bogus >/dev/null 2>&1
assert_eq "unknown flag exits 2" 2 $?

start_server
assert_contains "server logs its address" "kofarm-server listening on http://127.0.0.1:$SERVER_PORT" "$(cat "$T/server.log")"
TOKEN=$(new_token writer)
assert_match "token create prints the token last" '^kf_[0-9a-f]{40}$' "$TOKEN"
WRITER=$TOKEN
READER=$(new_token reader read)
assert_match "read-only token" '^kf_[0-9a-f]{40}$' "$READER"
out=$("$KOFARM_SERVER" token list)
assert_contains "token list names tokens" '"reader"' "$out"
assert_not_contains "token list hides hashes" "token_hash" "$out"

# ---------------------------------------------------------------- ops

api GET /healthz
assert_eq "healthz 200" 200 "$HTTP_CODE"
api GET /readyz
assert_eq "readyz 200" 200 "$HTTP_CODE"
api GET /openapi.yaml
assert_eq "openapi served" 200 "$HTTP_CODE"
curl -s -o "$T/openapi.yaml" "$SERVER_URL/openapi.yaml"
cmp -s "$T/openapi.yaml" "$KF_ROOT/api/openapi.yaml"
assert_eq "openapi is the file, byte for byte" 0 $?
api GET /v1/openapi.yaml
assert_eq "openapi under /v1 too" 200 "$HTTP_CODE"
api GET /nope
assert_eq "unknown path 404" 404 "$HTTP_CODE"
assert_eq "404 is JSON" not_found "$(err_code)"
api DELETE /v1/builds
assert_eq "wrong method 405" 405 "$HTTP_CODE"
assert_eq "405 code" method_not_allowed "$(err_code)"

# ---------------------------------------------------------------- submit

post_json "$GOOD" -D "$T/headers"
assert_eq "good POST 202" 202 "$HTTP_CODE"
ID=$(jq -r .id <<<"$BODY")
assert_match "job id" '^[0-9]+$' "$ID"
assert_eq "job queued" queued "$(jq -r .state <<<"$BODY")"
assert_match "Location header" "Location: /v1/builds/$ID" "$(tr -d '\r' <"$T/headers")"
assert_eq "job committed" "queued build" "$(psql_q "SELECT state || ' ' || kind FROM jobs WHERE id = $ID")"
assert_eq "requester recorded" writer "$(psql_q "SELECT requested_by FROM jobs WHERE id = $ID")"
assert_eq "spec normalised" '["latest"]' "$(psql_q "SELECT spec->'tags' FROM jobs WHERE id = $ID")"
api GET "/v1/builds/$ID"
assert_eq "GET job 200" 200 "$HTTP_CODE"
assert_eq "GET job id" "$ID" "$(jq -r .id <<<"$BODY")"
v1=$BODY
api GET "/builds/$ID"
assert_eq "unversioned GET equals /v1" "$v1" "$BODY"
api GET /v1/builds/999999
assert_eq "unknown job 404" 404 "$HTTP_CODE"
api GET /v1/builds/abc
assert_eq "non-numeric id 400" 400 "$HTTP_CODE"

# Bad bodies: nothing is inserted by any of them.
before=$(jobs_count)
post_json '{"source": '
assert_eq "bad JSON 400" 400 "$HTTP_CODE"
assert_eq "bad JSON code" invalid_json "$(err_code)"
post_json '[1,2]'
assert_eq "non-object 400" 400 "$HTTP_CODE"
post_json '{"source":{"git":{"url":"https://example.com/r.git"}},"importpaths":"./cmd/app"}'
assert_eq "wrong type 400" 400 "$HTTP_CODE"
assert_contains "wrong type names the field" "importpaths" "$(err_msg)"
post_json '{"source":{"git":{"url":"https://example.com/r.git"}},"importpaths":["."],"priority":"high"}'
assert_contains "wrong type priority named" "priority" "$(err_msg)"
post_json '{"source":{"git":{"url":"https://example.com/r.git"}},"importpaths":["."],"colour":1}'
assert_eq "unknown field 400" 400 "$HTTP_CODE"
assert_contains "unknown field named" "colour" "$(err_msg)"
post_json '{"source":{"git":{"url":"https://example.com/r.git","ref":"-x"}},"importpaths":["."]}'
assert_eq "bad ref 400" 400 "$HTTP_CODE"
assert_contains "bad ref named" "source.git.ref" "$(err_msg)"
post_json '{"source":{"git":{"url":"-oProxyCommand=x"}},"importpaths":["."]}'
assert_eq "option-like URL 400" 400 "$HTTP_CODE"
post_json '{"source":{"git":{"url":"file:///tmp/repo"}},"importpaths":["."]}'
assert_eq "file URL refused by default" 400 "$HTTP_CODE"
post_json '{"source":{"git":{"url":"https://example.com/r.git"}},"importpaths":["."],"env":{"CC":"/tmp/evil"}}'
assert_eq "env CC refused" 400 "$HTTP_CODE"
post_json '{"source":{"git":{"url":"https://example.com/r.git"}},"importpaths":["."],"ldflags":["-extld=/bin/sh"]}'
assert_eq "ldflags -extld refused" 400 "$HTTP_CODE"
head -c $((10 << 20)) /dev/zero | tr '\0' ' ' >"$T/big.json"
api POST /v1/builds -H 'Content-Type: application/json' --data-binary @"$T/big.json"
assert_eq "10 MB body 413" 413 "$HTTP_CODE"
assert_eq "413 code" too_large "$(err_code)"
api POST /v1/builds -H 'Content-Type: text/plain' --data-binary "$GOOD"
assert_eq "wrong content type 415" 415 "$HTTP_CODE"
api POST /v1/builds --data "$GOOD"
assert_eq "form content type 415" 415 "$HTTP_CODE"
api POST /v1/builds/abc/cancel
assert_eq "cancel of non-numeric id 400" 400 "$HTTP_CODE"
assert_eq "no bad body inserted a job" "$before" "$(jobs_count)"

# ---------------------------------------------------------------- auth

TOKEN= post_json "$GOOD"
assert_eq "no token 401" 401 "$HTTP_CODE"
out=$(curl -s -D - -o /dev/null -X POST "$SERVER_URL/v1/builds" -H 'Content-Type: application/json' -d "$GOOD")
assert_match "401 has WWW-Authenticate" 'WWW-Authenticate: Bearer' "$out"
TOKEN=kf_0000000000000000000000000000000000000000 post_json "$GOOD"
assert_eq "unknown token 401" 401 "$HTTP_CODE"
TOKEN=$READER post_json "$GOOD"
assert_eq "read-only token cannot write: 403" 403 "$HTTP_CODE"
assert_eq "403 code" forbidden "$(err_code)"
TOKEN=$READER api GET "/v1/builds/$ID"
assert_eq "read-only token reads" 200 "$HTTP_CODE"
TOKEN= api GET "/v1/builds/$ID"
assert_eq "reading needs a token" 401 "$HTTP_CODE"
"$KOFARM_SERVER" token create --name gone >"$T/gone" && GONE=$(tail -n1 "$T/gone")
"$KOFARM_SERVER" token revoke --name gone >/dev/null
sleep 2.1 # the server remembers verified tokens for 2 s
TOKEN=$GONE api GET "/v1/builds/$ID"
assert_eq "revoked token 401" 401 "$HTTP_CODE"
assert_eq "no unauthorised job" "$before" "$(jobs_count)"

# ---------------------------------------------------------------- idempotency

post_json "$GOOD" -H 'Idempotency-Key: abc-1'
assert_eq "keyed POST 202" 202 "$HTTP_CODE"
KID=$(jq -r .id <<<"$BODY")
post_json "$GOOD" -H 'Idempotency-Key: abc-1'
assert_eq "repeat answers 200" 200 "$HTTP_CODE"
assert_eq "repeat is the same job" "$KID" "$(jq -r .id <<<"$BODY")"
post_json '{"source":{"git":{"url":"https://example.com/r.git","ref":"dev"}},"importpaths":["."]}' \
  -H 'Idempotency-Key: abc-1'
assert_eq "key reused with another body 422" 422 "$HTTP_CODE"
assert_eq "422 code" idempotency_conflict "$(err_code)"
assert_eq "one job for the key" 1 "$(psql_q "SELECT count(*) FROM jobs WHERE idempotency_key = 'abc-1'")"
post_json "$GOOD" -H "Idempotency-Key: $(printf 'k%.0s' $(seq 300))"
assert_eq "overlong key 400" 400 "$HTTP_CODE"

# ---------------------------------------------------------------- uploads

copy_fixture "$T/src"
tar -C "$T/src" -czf "$T/good.tgz" .
before=$(jobs_count)
api POST '/v1/builds?importpaths=./cmd/app&platforms=linux/amd64&tag=v1' \
  -H 'Content-Type: application/gzip' --data-binary @"$T/good.tgz"
assert_eq "upload 202" 202 "$HTTP_CODE"
UID_=$(jq -r .id <<<"$BODY")
assert_match "upload source recorded" '^sha256:' "$(jq -r .spec.source.upload.digest <<<"$BODY")"
assert_eq "source stored" "$(stat -c %s "$T/good.tgz")" "$(psql_q "SELECT length(content) FROM job_sources WHERE job_id = $UID_")"
tar -C "$T/src" -cf "$T/good.tar" .
api POST '/v1/builds?importpaths=./cmd/app' -H 'Content-Type: application/x-tar' --data-binary @"$T/good.tar"
assert_eq "plain tar upload 202" 202 "$HTTP_CODE"
python3 - "$T" <<'EOF'
import io, sys, tarfile
t = sys.argv[1]
def make(name, entries):
    with tarfile.open(f"{t}/{name}", "w:gz") as tf:
        for kind, path, arg in entries:
            info = tarfile.TarInfo(path)
            if kind == "f":
                data = arg.encode()
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.SYMTYPE
                info.linkname = arg
                tf.addfile(info)
make("abs.tgz", [("f", "go.mod", "module x\n"), ("f", "/tmp/kofarm-pwned", "x")])
make("dotdot.tgz", [("f", "go.mod", "module x\n"), ("f", "../pwned", "x")])
make("symlink.tgz", [("l", "etc", "/etc"), ("f", "etc/pwned", "x")])
make("climb.tgz", [("l", "up", "../../x")])
EOF
before=$(jobs_count)
for bad in abs dotdot symlink climb; do
  api POST '/v1/builds?importpaths=.' -H 'Content-Type: application/gzip' --data-binary @"$T/$bad.tgz"
  assert_eq "hostile upload $bad 400" 400 "$HTTP_CODE"
  log "$bad: $(err_msg)"
done
api POST '/v1/builds?importpaths=.' -H 'Content-Type: application/gzip' --data-binary 'not a tarball'
assert_eq "garbage upload 400" 400 "$HTTP_CODE"
api POST '/v1/builds?importpaths=.&colour=red' -H 'Content-Type: application/gzip' --data-binary @"$T/good.tgz"
assert_eq "unknown query parameter 400" 400 "$HTTP_CODE"
assert_contains "unknown parameter named" colour "$(err_msg)"
api POST '/v1/builds?importpaths=../x' -H 'Content-Type: application/gzip' --data-binary @"$T/good.tgz"
assert_eq "bad import path in query 400" 400 "$HTTP_CODE"
assert_eq "no hostile upload inserted a job" "$before" "$(jobs_count)"
[ ! -e /tmp/kofarm-pwned ]
assert_eq "nothing written outside" 0 $?

# ---------------------------------------------------------------- list pagination

for i in 1 2 3 4 5 6 7; do post_json "{\"source\":{\"git\":{\"url\":\"https://example.com/r.git\"}},\"importpaths\":[\".\"],\"project\":\"page\",\"labels\":{\"n\":\"$i\"}}"; done
api GET '/v1/builds?project=page&limit=3'
assert_eq "list 200" 200 "$HTTP_CODE"
p1=$(jq -r '[.items[].spec.labels.n] | join(",")' <<<"$BODY")
c1=$(jq -r .next_cursor <<<"$BODY")
assert_eq "page 1 newest first" "7,6,5" "$p1"
api GET "/v1/builds?project=page&limit=3&cursor=$c1"
p2=$(jq -r '[.items[].spec.labels.n] | join(",")' <<<"$BODY")
c2=$(jq -r .next_cursor <<<"$BODY")
assert_eq "page 2" "4,3,2" "$p2"
api GET "/v1/builds?project=page&limit=3&cursor=$c2"
assert_eq "page 3" "1" "$(jq -r '[.items[].spec.labels.n] | join(",")' <<<"$BODY")"
assert_eq "last page has no cursor" null "$(jq -r .next_cursor <<<"$BODY")"
api GET '/v1/builds?state=bogus'
assert_eq "bad state 400" 400 "$HTTP_CODE"
api GET '/v1/builds?limit=0'
assert_eq "bad limit 400" 400 "$HTTP_CODE"
api GET '/v1/builds?cursor=xyz'
assert_eq "bad cursor 400" 400 "$HTTP_CODE"
api GET '/v1/builds?state=queued&limit=1'
assert_eq "state filter" queued "$(jq -r '.items[0].state' <<<"$BODY")"

# ---------------------------------------------------------------- cancel, retry

api POST "/v1/builds/$ID/cancel"
assert_eq "cancel queued 200" 200 "$HTTP_CODE"
assert_eq "canceled" canceled "$(jq -r .state <<<"$BODY")"
api POST "/v1/builds/$ID/cancel"
assert_eq "cancel again 409" 409 "$HTTP_CODE"
assert_eq "409 code" conflict "$(err_code)"
TOKEN=$READER api POST "/v1/builds/$ID/cancel"
assert_eq "read-only cancel 403" 403 "$HTTP_CODE"
api POST /v1/builds/999999/cancel
assert_eq "cancel unknown 404" 404 "$HTTP_CODE"
api POST "/v1/builds/$KID/retry"
assert_eq "retry of a queued job 409" 409 "$HTTP_CODE"
api POST "/v1/builds/$ID/retry" -D "$T/headers"
assert_eq "retry canceled 202" 202 "$HTTP_CODE"
RID=$(jq -r .id <<<"$BODY")
assert_eq "retry_of" "$ID" "$(jq -r .retry_of <<<"$BODY")"
assert_match "retry Location" "Location: /v1/builds/$RID" "$(tr -d '\r' <"$T/headers")"
psql_q "UPDATE jobs SET state = 'failed', error_code = 'build_failed', error_message = 'x', finished_at = now() WHERE id = $RID" >/dev/null
api POST "/v1/builds/$RID/retry"
assert_eq "retry failed 202" 202 "$HTTP_CODE"
api GET "/v1/builds/$RID/retry"
assert_eq "GET on retry 405" 405 "$HTTP_CODE"

# ---------------------------------------------------------------- logs

LID=$KID
psql_q "INSERT INTO job_logs (job_id, stream, line) VALUES ($LID, 'stdout', 'line one'), ($LID, 'stderr', 'line two')" >/dev/null
api GET "/v1/builds/$LID/log"
assert_eq "log 200" 200 "$HTTP_CODE"
assert_eq "log text" $'line one\nline two\n' "$BODY"
seq1=$(psql_q "SELECT min(seq) FROM job_logs WHERE job_id = $LID")
api GET "/v1/builds/$LID/log?after=$seq1"
assert_eq "log after" $'line two\n' "$BODY"
api GET "/v1/builds/$LID/log?after=-1"
assert_eq "bad after 400" 400 "$HTTP_CODE"
api GET /v1/builds/999999/log
assert_eq "log of unknown job 404" 404 "$HTTP_CODE"
curl -sN -H "Authorization: Bearer $TOKEN" "$SERVER_URL/v1/builds/$LID/log?follow=1" >"$T/follow.out" &
FPID=$!
KF_PIDS+=("$FPID")
sleep 0.5
psql_q "INSERT INTO job_logs (job_id, stream, line) VALUES ($LID, 'stdout', 'line three'); SELECT pg_notify('kofarm_log', '$LID')" >/dev/null
for i in $(seq 1 50); do grep -q 'line three' "$T/follow.out" && break; sleep 0.1; done
assert_eq "follow streams new lines" $'line one\nline two\nline three' "$(cat "$T/follow.out")"
kill -0 "$FPID" 2>/dev/null
assert_eq "follow still open while the job runs" 0 $?
psql_q "UPDATE jobs SET state = 'failed', finished_at = now() WHERE id = $LID" >/dev/null
for i in $(seq 1 50); do kill -0 "$FPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$FPID" 2>/dev/null
assert_eq "follow ends with the job" 1 $?
wait "$FPID"
assert_eq "follow exit status" 0 $?

# ---------------------------------------------------------------- result reuse

REUSE="{\"source\":{\"git\":{\"url\":\"https://example.com/r.git\",\"commit\":\"$SHA\"}},\"importpaths\":[\"./cmd/app\"]}"
post_json "$REUSE"
assert_eq "exact commit POST 202" 202 "$HTTP_CODE"
FIRST=$(jq -r .id <<<"$BODY")
assert_eq "first is queued" queued "$(jq -r .state <<<"$BODY")"
assert_match "cache key set at submit" '^build:[0-9a-f]{64}$' "$(psql_q "SELECT cache_key FROM jobs WHERE id = $FIRST")"
psql_q "UPDATE jobs SET state = 'succeeded', attempts = 1, started_at = now() - interval '3 s', finished_at = now(),
        commit = '$SHA', result = '{\"commit\": \"$SHA\", \"reused_from\": null, \"duration_ms\": 3000, \"images\": [{\"digest\": \"sha256:aa\"}]}'
        WHERE id = $FIRST" >/dev/null
start=$(date +%s%N)
post_json "$REUSE"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
assert_eq "reused POST 202" 202 "$HTTP_CODE"
assert_eq "answered succeeded at once" succeeded "$(jq -r .state <<<"$BODY")"
assert_eq "reused_from names the first" "$FIRST" "$(jq -r .result.reused_from <<<"$BODY")"
assert_eq "reused result" "sha256:aa" "$(jq -r '.result.images[0].digest' <<<"$BODY")"
assert_eq "reused commit" "$SHA" "$(jq -r .commit <<<"$BODY")"
log "reuse answered in ${ms} ms"
post_json "${REUSE%\}},\"no_cache\":true}"
assert_eq "no_cache queues a real build" queued "$(jq -r .state <<<"$BODY")"
post_json "${REUSE%\}},\"tags\":[\"other\"]}"
assert_eq "other options are not reused" queued "$(jq -r .state <<<"$BODY")"
psql_q "UPDATE jobs SET state = 'succeeded', attempts = 1, started_at = now(), finished_at = now(), result = '{\"images\": []}' WHERE id = $UID_" >/dev/null
api POST '/v1/builds?importpaths=./cmd/app&platforms=linux/amd64&tag=v1' \
  -H 'Content-Type: application/gzip' --data-binary @"$T/good.tgz"
assert_eq "same upload reused" "succeeded $UID_" "$(jq -r '.state + " " + (.result.reused_from | tostring)' <<<"$BODY")"
api GET "/v1/builds/$FIRST"
assert_eq "finished job served (cache path)" succeeded "$(jq -r .state <<<"$BODY")"

# ---------------------------------------------------------------- metrics

api GET /metrics
assert_eq "metrics 200" 200 "$HTTP_CODE"
assert_contains "jobs gauge" 'kofarm_jobs{kind="build",state="queued"}' "$BODY"
assert_contains "finished counter" 'kofarm_jobs_finished_total{kind="build",outcome="succeeded"}' "$BODY"
assert_contains "duration histogram" 'kofarm_build_duration_seconds_bucket{le="5"} 2' "$BODY"
assert_contains "duration count" 'kofarm_build_duration_seconds_count 2' "$BODY"
assert_contains "http counter by template" 'kofarm_http_requests_total{route="/v1/builds/{id}",code="404"}' "$BODY"
assert_not_contains "no raw ids in routes" "route=\"/v1/builds/$ID\"" "$BODY"
assert_contains "database up" 'kofarm_database_up 1' "$BODY"

# ---------------------------------------------------------------- public read, file URLs

MAIN_URL=$SERVER_URL MAIN_PID=$SERVER_PID
start_server KOFARM_PUBLIC_READ=1 KOFARM_ALLOW_FILE_URLS=1
TOKEN= api GET "/v1/builds/$FIRST"
assert_eq "public read without a token" 200 "$HTTP_CODE"
TOKEN= api GET "/v1/builds?limit=1"
assert_eq "public list without a token" 200 "$HTTP_CODE"
TOKEN= post_json "$GOOD"
assert_eq "public read still guards writes" 401 "$HTTP_CODE"
post_json '{"source":{"git":{"url":"file:///srv/repo.git"}},"importpaths":["."]}'
assert_eq "file URL allowed by the operator" 202 "$HTTP_CODE"
kill "$SERVER_PID"
wait "$SERVER_PID"
assert_eq "SIGTERM stops cleanly" 0 $?
SERVER_URL=$MAIN_URL SERVER_PID=$MAIN_PID

# ---------------------------------------------------------------- kill -9 while posting

: >"$T/posted"
(
  for i in $(seq 1 50); do
    out=$(curl -s -m 5 -X POST -w '\n%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
          --data-binary "{\"source\":{\"git\":{\"url\":\"https://example.com/k.git\"}},\"importpaths\":[\".\"],\"labels\":{\"i\":\"$i\"}}" \
          "$SERVER_URL/v1/builds")
    [ "${out##*$'\n'}" = 202 ] && jq -r .id <<<"${out%$'\n'*}" >>"$T/posted"
  done
) &
POSTER=$!
sleep 0.3
kill -9 "$SERVER_PID"
wait "$POSTER"
n_posted=$(wc -l <"$T/posted")
log "$n_posted jobs answered 202 before the kill"
start_server
missing=0
while read -r id; do
  [ "$(psql_q "SELECT count(*) FROM jobs WHERE id = $id")" = 1 ] || missing=$((missing + 1))
done <"$T/posted"
assert_eq "every 202'd job survives kill -9" 0 "$missing"
assert_ne "some jobs were posted before the kill" 0 "$n_posted"
api GET /healthz
assert_eq "restarted server answers" 200 "$HTTP_CODE"

# ---------------------------------------------------------------- PostgreSQL restart

stop_postgres fast
api GET /readyz
assert_eq "readyz 503 with the database down" 503 "$HTTP_CODE"
assert_eq "readyz error code" unavailable "$(err_code)"
post_json "$GOOD"
assert_eq "POST 503 with the database down" 503 "$HTTP_CODE"
api GET /healthz
assert_eq "healthz needs no database" 200 "$HTTP_CODE"
pg_launch
code=
for i in $(seq 1 50); do
  api GET /readyz
  code=$HTTP_CODE
  [ "$code" = 200 ] && break
  sleep 0.2
done
assert_eq "readyz 200 again" 200 "$code"
post_json "$GOOD"
assert_eq "POST works again" 202 "$HTTP_CODE"
api GET "/v1/builds/$(jq -r .id <<<"$BODY")"
assert_eq "GET works again" 200 "$HTTP_CODE"

grep -q 'POST /v1/builds 202' "$T/server.log"
assert_eq "requests are logged" 0 $?
finish
