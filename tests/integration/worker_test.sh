#!/usr/bin/env bash
# kofarm-worker against a real PostgreSQL, registry, git and go: jobs are
# inserted with psql (no server needed). Builds from git and from uploads,
# logs, user errors failing at once, result reuse, 2 workers draining many
# jobs, kill -9 mid-build, cancel of a running build, SIGTERM hand-back and
# drain, and a PostgreSQL restart.
. "$(dirname "$0")/lib.sh"
need_kofarm
if [ ! -x "$KOFARM_WORKER" ]; then
  fail "kofarm-worker binary exists at $KOFARM_WORKER" "build it first (scripts/build.sh)"
  finish
fi

SHA='sha256:[0-9a-f]{64}'
APP=example.com/hello/cmd/app

chmod 711 "$T" # the postgres user must reach $T/pg (lib.sh does not open it)
start_postgres
out=$("$KOFARM_WORKER" migrate 2>&1)
assert_match "migrate applies the migrations" "^applied [1-9][0-9]* migration" "$out"
out=$("$KOFARM_WORKER" migrate 2>&1)
assert_eq "migrate twice applies nothing" "applied 0 migrations" "$out"

start_registry
make_base "$REGISTRY/base/seed:latest" linux/amd64 || { fail "seed the base image"; finish; }
BASE=$REGISTRY/base/seed:latest
REPO=$REGISTRY/w

# A real docker-registry whose storage cannot be written: it answers the
# /v2/ check and every read, and HTTP 500 to every upload.
BROKEN_PORT=$(free_port)
mkdir -p "$T/broken-registry"
printf '%s\n' "version: 0.1" "log: {level: error, accesslog: {disabled: true}}" \
  "storage: {filesystem: {rootdirectory: /proc/version/data}}" "http: {addr: 127.0.0.1:$BROKEN_PORT, secret: x}" \
  >"$T/broken-registry/config.yml"
docker-registry serve "$T/broken-registry/config.yml" >"$T/broken-registry/log" 2>&1 &
KF_PIDS+=("$!")
export KOFARM_INSECURE_REGISTRIES=$KOFARM_INSECURE_REGISTRIES,127.0.0.1:$BROKEN_PORT

# A git repository of the fixture, with a main branch.
SRC=$T/src
copy_fixture "$SRC"
git -C "$SRC" init -q -b main
git -C "$SRC" -c user.name=t -c user.email=t@example.com add -A
git -C "$SRC" -c user.name=t -c user.email=t@example.com commit -q -m init
COMMIT=$(git -C "$SRC" rev-parse HEAD)

go_shim # $T/bin/go: pauses go build when the job's env has KF_TEST_SLEEP

WORKER_ENV=(PATH="$T/bin:$PATH" KOFARM_REPO="$REPO" KOFARM_DEFAULT_BASE_IMAGE="$BASE" KOFARM_ALLOW_FILE_URLS=1
            KOFARM_LEASE_MS=2000 KOFARM_CONCURRENCY=2)

# spec JQ_FILTER... : the normalised spec of a build of ./cmd/app at main, changed by the filters.
spec() {
  local s f
  s=$(jq -cn --arg url "file://$SRC" '{source: {git: {url: $url, ref: "main", commit: null}},
        importpaths: ["./cmd/app"], platforms: ["linux/amd64"], repo: null, naming: "base", tags: ["latest"],
        base_image: null, labels: {}, annotations: {}, env: [], ldflags: [], user: null, no_cache: false}')
  for f in "$@"; do s=$(jq -c "$f" <<<"$s"); done
  printf '%s' "$s"
}
# insert SPEC [MAX_ATTEMPTS]: prints the new job's id.
insert() { psql_q "INSERT INTO jobs (kind, spec, max_attempts) VALUES ('build', \$s\$$1\$s\$, ${2:-3}) RETURNING id"; }
# wait_for ID STATE SECONDS: 0 once the job is in STATE.
wait_for() {
  local i
  for i in $(seq 1 $(($3 * 20))); do
    [ "$(field "$1" state)" = "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
worker_log() { cat "$T"/worker-*.log 2>/dev/null | tail -n 30; }
# children PID: the direct children of PID, zombies included (the worker is a
# subreaper: every orphan of its builds ends up there).
children() { ps -o pid=,stat=,comm= --ppid "$1" 2>/dev/null; }
# wait_ready: the last started worker has connected and listens.
wait_ready() {
  local n=$((${#WORKER_PIDS[@]} - 1)) i
  for i in $(seq 1 200); do
    grep -q ' ready: ' "$T/worker-$n.log" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "worker $n gets ready" "$(tail -5 "$T/worker-$n.log")"
}

start_worker "${WORKER_ENV[@]}"
wait_ready
start_worker "${WORKER_ENV[@]}"
wait_ready

# ---- a build from git: result shape, registry, running image, logs
id=$(insert "$(spec)")
state=$(wait_done "$id" 120)
assert_eq "git build succeeds" succeeded "$state"
[ "$state" = succeeded ] || { log "$(field "$id" "error_code || ': ' || error_message")"; worker_log; }
res=$(field "$id" result)
ref=$(jq -r '.images[0].reference' <<<"$res")
digest=$(jq -r '.images[0].digest' <<<"$res")
assert_eq "result commit" "$COMMIT" "$(jq -r .commit <<<"$res")"
assert_eq "result reused_from is null" null "$(jq -r .reused_from <<<"$res")"
assert_match "result duration_ms" '^[0-9]+$' "$(jq -r .duration_ms <<<"$res")"
assert_eq "result importpath" "$APP" "$(jq -r '.images[0].importpath' <<<"$res")"
assert_eq "result image (naming base)" "$REPO/app" "$(jq -r '.images[0].image' <<<"$res")"
assert_match "result reference" "^$REPO/app@$SHA\$" "$ref"
assert_eq "reference ends with the digest" "$digest" "${ref#*@}"
assert_eq "result tags" '["latest"]' "$(jq -c '.images[0].tags' <<<"$res")"
assert_eq "result platform" linux/amd64 "$(jq -r '.images[0].platforms[0].platform' <<<"$res")"
assert_match "result media type" 'manifest|index' "$(jq -r '.images[0].media_type' <<<"$res")"
assert_eq "skopeo: pushed digest = result digest" "$digest" "$(raw_digest "$ref")"
assert_eq "skopeo: tag latest points at it" "$digest" "$(raw_digest "$REPO/app:latest")"
run_image "$ref"
assert_eq "the image runs" 0 "$RUN_RC"
assert_contains "the image prints its greeting" "hello from kofarm" "$RUN_OUT"
assert_eq "commit column" "$COMMIT" "$(field "$id" commit)"
assert_eq "one attempt" 1 "$(field "$id" attempts)"
assert_match "cache key recorded" '^build:[0-9a-f]{64}$' "$(field "$id" cache_key)"
logtext=$(job_log "$id")
assert_contains "log: checkout" "Checked out $COMMIT" "$logtext"
assert_contains "log: go build step" "build Building $APP for linux/amd64" "$logtext"
assert_contains "log: push" "build Published $ref" "$logtext"
assert_contains "log: outcome" "system Succeeded in" "$logtext"
assert_eq "job directories removed" "" "$(find "$T"/worker-*/jobs -mindepth 1)"
FIRST=$id
FIRST_DIGEST=$digest

# ---- result reuse: same commit and options (by commit, not ref)
t0=$(now_ms)
id=$(insert "$(spec ".source.git.ref = null | .source.git.commit = \"$COMMIT\"")")
state=$(wait_done "$id" 30)
took=$(($(now_ms) - t0))
res=$(field "$id" result)
assert_eq "reuse: succeeded" succeeded "$state"
assert_eq "reuse: reused_from the first job" "$FIRST" "$(jq -r .reused_from <<<"$res")"
assert_eq "reuse: same digest" "$FIRST_DIGEST" "$(jq -r '.images[0].digest' <<<"$res")"
log "reuse took ${took} ms from insert to succeeded"
if [ "$took" -lt 3000 ]; then pass "reuse is quick (${took} ms)"; else fail "reuse is quick" "${took} ms"; fi
assert_contains "reuse: logged" "reusing its result" "$(job_log "$id")"

# ---- no_cache: builds again, same digest (reproducible)
id=$(insert "$(spec '.no_cache = true')")
state=$(wait_done "$id" 120)
res=$(field "$id" result)
assert_eq "no_cache: succeeded" succeeded "$state"
assert_eq "no_cache: not reused" null "$(jq -r .reused_from <<<"$res")"
assert_eq "no_cache: same digest" "$FIRST_DIGEST" "$(jq -r '.images[0].digest' <<<"$res")"
assert_contains "no_cache: really built" "Building $APP" "$(job_log "$id")"

# ---- an uploaded tarball (no .git)
tar -C "$FIXTURE" -czf "$T/up.tgz" .
up_digest="sha256:$(sha256sum "$T/up.tgz" | cut -d' ' -f1)"
up_size=$(stat -c %s "$T/up.tgz")
up_spec=$(spec ".source = {upload: {digest: \"$up_digest\", size: $up_size}}" '.tags = ["up"]')
id=$(psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U kofarm -d kofarm -v hex="$(xxd -p "$T/up.tgz" | tr -d '\n')" <<SQL
WITH j AS (INSERT INTO jobs (kind, spec) VALUES ('build', \$s\$$up_spec\$s\$) RETURNING id),
     s AS (INSERT INTO job_sources (job_id, digest, content) SELECT id, '$up_digest', decode(:'hex', 'hex') FROM j)
SELECT id FROM j;
SQL
)
state=$(wait_done "$id" 120)
assert_eq "upload build succeeds" succeeded "$state"
[ "$state" = succeeded ] || log "$(field "$id" "error_code || ': ' || error_message")"
res=$(field "$id" result)
ref=$(jq -r '.images[0].reference' <<<"$res")
assert_eq "upload: commit is null" null "$(jq -r .commit <<<"$res")"
assert_eq "upload: tags" '["up"]' "$(jq -c '.images[0].tags' <<<"$res")"
assert_eq "upload: pushed digest" "$(jq -r '.images[0].digest' <<<"$res")" "$(raw_digest "$REPO/app:up")"
run_image "$REPO/app@${ref##*@}"
assert_contains "upload: the image runs" "hello from kofarm" "$RUN_OUT"

# An upload whose bytes do not match the spec's digest fails at once.
bad_spec=$(spec ".source = {upload: {digest: \"sha256:$(printf '0%.0s' $(seq 64))\", size: 3}}")
id=$(psql_q "WITH j AS (INSERT INTO jobs (kind, spec) VALUES ('build', \$s\$$bad_spec\$s\$) RETURNING id),
             s AS (INSERT INTO job_sources (job_id, digest, content) SELECT id, 'sha256:x', 'abc'::bytea FROM j)
             SELECT id FROM j")
assert_eq "upload with a wrong digest fails" failed "$(wait_done "$id" 30)"
assert_eq "upload with a wrong digest: code" bad_source "$(field "$id" error_code)"

# ---- user errors fail at once
id=$(insert "$(spec '.importpaths = ["./cmd/broken"]')")
assert_eq "compile error fails" failed "$(wait_done "$id" 120)"
assert_eq "compile error: one attempt" 1 "$(field "$id" attempts)"
assert_eq "compile error: code" build_failed "$(field "$id" error_code)"
msg=$(field "$id" error_message)
assert_match "compile error: message names the file" 'main\.go:7' "$msg"
assert_contains "compile error: go's output is in the log" "main.go:7" "$(job_log "$id" | grep '^build ')"

id=$(insert "$(spec '.source.git.ref = "no-such-branch"')")
assert_eq "unknown ref fails" failed "$(wait_done "$id" 60)"
assert_eq "unknown ref: one attempt" 1 "$(field "$id" attempts)"
assert_eq "unknown ref: code" source_not_found "$(field "$id" error_code)"
assert_contains "unknown ref: message" "no-such-branch" "$(field "$id" error_message)"

id=$(insert "$(spec '.importpaths = ["./pkg/lib"]')")
assert_eq "not a main package fails" failed "$(wait_done "$id" 60)"
assert_eq "not main: code" build_failed "$(field "$id" error_code)"
assert_eq "not main: one attempt" 1 "$(field "$id" attempts)"

id=$(insert "$(spec '.naming = 7')")
assert_eq "bad spec fails" failed "$(wait_done "$id" 30)"
assert_eq "bad spec: code" bad_request "$(field "$id" error_code)"

# ---- a transient failure (registry unreachable) retries with backoff, then fails
id=$(insert "$(spec '.repo = "127.0.0.1:1/nowhere"' '.tags = ["transient"]')" 2)
for i in $(seq 1 1200); do
  [ "$(field "$id" "state || ' ' || attempts")" = "queued 1" ] && break
  sleep 0.05
done
assert_eq "transient: requeued after the first attempt" "queued 1" "$(field "$id" "state || ' ' || attempts")"
assert_eq "transient: code" network "$(field "$id" error_code)"
assert_eq "transient: waits in backoff" t "$(field "$id" "run_after > now()")"
assert_eq "transient: fails after max_attempts" failed "$(wait_done "$id" 60)"
assert_eq "transient: two attempts" 2 "$(field "$id" attempts)"

# ---- a registry answering 500 is transient too: retried, then failed with its code
id=$(insert "$(spec ".repo = \"127.0.0.1:$BROKEN_PORT/w\"" '.tags = ["broken"]')" 2)
assert_eq "registry 500: fails after max_attempts" failed "$(wait_done "$id" 90)"
assert_eq "registry 500: two attempts" 2 "$(field "$id" attempts)"
assert_eq "registry 500: code" registry_error "$(field "$id" error_code)"
assert_match "registry 500: the message says so" "HTTP 500" "$(field "$id" error_message)"

# ---- 2 workers x concurrency 2 drain N jobs: each claimed exactly once
N=60
ids=$(psql_q "INSERT INTO jobs (kind, spec) SELECT 'build', \$s\$$(spec)\$s\$ FROM generate_series(1, $N) RETURNING id" | tr '\n' ',')
ids=${ids%,}
for i in $(seq 1 600); do
  left=$(psql_q "SELECT count(*) FROM jobs WHERE id IN ($ids) AND state NOT IN ('succeeded', 'failed', 'canceled')")
  [ "$left" = 0 ] && break
  sleep 0.1
done
assert_eq "drain: all $N succeeded" "$N" "$(psql_q "SELECT count(*) FROM jobs WHERE id IN ($ids) AND state = 'succeeded'")"
assert_eq "drain: each claimed once" "$N" "$(psql_q "SELECT count(*) FROM jobs WHERE id IN ($ids) AND attempts = 1")"
assert_eq "drain: a distinct lease owner per claim" "$N" \
  "$(psql_q "SELECT count(DISTINCT lease_owner) FROM jobs WHERE id IN ($ids)")"
assert_eq "drain: both workers took part" 2 \
  "$(psql_q "SELECT count(DISTINCT split_part(lease_owner, '#', 1)) FROM jobs WHERE id IN ($ids)")"

# ---- cancel of a running go build: canceled within 2 s, nothing left behind
id=$(insert "$(spec '.env = ["GOFLAGS=-a -mod=mod"]' '.no_cache = true')")
for i in $(seq 1 600); do
  job_log "$id" | grep -q "Building $APP" && break
  sleep 0.05
done
sleep 1 # go is compiling by now
owner=$(field "$id" lease_owner)
wpid=${owner%%#*}
wpid=${wpid##*:}
assert_eq "cancel: the job is running" running "$(field "$id" state)"
assert_match "cancel: go runs under the worker before the cancel" 'go' "$(children "$wpid")"
t0=$(now_ms)
psql_q "UPDATE jobs SET cancel_requested = true WHERE id = $id"
wait_for "$id" canceled 10
took=$(($(now_ms) - t0))
assert_eq "cancel: state canceled" canceled "$(field "$id" state)"
if [ "$took" -le 2000 ]; then pass "cancel: within 2 s (${took} ms)"; else fail "cancel: within 2 s" "${took} ms"; fi
sleep 0.2
left=$(children "$wpid")
assert_eq "cancel: no child process of the worker left (go, compile, zombies)" "" "$left"
assert_contains "cancel: logged" "system Canceled" "$(job_log "$id")"

# ---- kill -9 of a worker mid-build: another worker finishes the job
id=$(insert "$(spec '.env = ["KF_TEST_SLEEP=4"]')")
wait_for "$id" running 60
sleep 0.5
owner=$(field "$id" lease_owner)
victim=${owner%%#*}
victim=${victim##*:}
kill -9 "$victim"
log "killed worker $victim holding job $id"
state=$(wait_done "$id" 120)
assert_eq "kill -9: the job still succeeds" succeeded "$state"
assert_eq "kill -9: second attempt" 2 "$(field "$id" attempts)"
owner2=$(field "$id" lease_owner)
assert_ne "kill -9: finished by another worker" "${owner%%#*}" "${owner2%%#*}"
assert_contains "kill -9: the reaper requeued it" "expired job(s) requeued" "$(cat "$T"/worker-*.log)"
# Replace the dead worker for what follows.
start_worker "${WORKER_ENV[@]}"
wait_ready

# ---- PostgreSQL restart while the workers idle
stop_postgres fast
sleep 1
pg_launch || { fail "postgres restarts"; finish; }
sleep 0.5
id=$(insert "$(spec '.tags = ["after-restart"]')")
state=$(wait_done "$id" 120)
assert_eq "after a PostgreSQL restart a new job runs" succeeded "$state"
[ "$state" = succeeded ] || worker_log

# ---- SIGTERM: running jobs finish within the grace period; exit 0
for pid in "${WORKER_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
sleep 2.5 # leases of anything they held run out
start_worker "${WORKER_ENV[@]}" KOFARM_SHUTDOWN_GRACE_MS=20000
wpid=${WORKER_PIDS[-1]}
id=$(insert "$(spec '.env = ["KF_TEST_SLEEP=2"]')")
wait_for "$id" running 60
kill -TERM "$wpid"
wait "$wpid"
rc=$?
assert_eq "SIGTERM: exit 0" 0 "$rc"
assert_eq "SIGTERM: the running job finished first" succeeded "$(field "$id" state)"

# Grace over: the job is handed back (queued again, no attempt spent).
start_worker "${WORKER_ENV[@]}" KOFARM_SHUTDOWN_GRACE_MS=300
wpid=${WORKER_PIDS[-1]}
id=$(insert "$(spec '.env = ["KF_TEST_SLEEP=60"]')")
wait_for "$id" running 60
sleep 0.3
t0=$(now_ms)
kill -TERM "$wpid"
wait "$wpid"
rc=$?
took=$(($(now_ms) - t0))
assert_eq "SIGTERM past the grace: exit 0" 0 "$rc"
assert_eq "SIGTERM past the grace: handed back" queued "$(field "$id" state)"
assert_eq "SIGTERM past the grace: attempts back to 0" 0 "$(field "$id" attempts)"
if [ "$took" -lt 5000 ]; then pass "SIGTERM past the grace: quick (${took} ms)"; else fail "quick hand-back" "${took} ms"; fi
assert_contains "hand-back logged" "handed back" "$(job_log "$id")"

# A second signal hands back at once, whatever the grace.
start_worker "${WORKER_ENV[@]}" KOFARM_SHUTDOWN_GRACE_MS=600000
wpid=${WORKER_PIDS[-1]}
wait_for "$id" running 60
sleep 0.3
kill -TERM "$wpid"
sleep 0.3
kill -INT "$wpid"
wait "$wpid"
assert_eq "second signal: exit 0" 0 "$?"
assert_eq "second signal: handed back" queued "$(field "$id" state)"
psql_q "UPDATE jobs SET state = 'canceled', finished_at = now() WHERE id = $id" >/dev/null

# The relaunched postmaster runs under runuser, which lib.sh's cleanup
# kills without stopping postgres: stop it here.
stop_postgres fast
finish
