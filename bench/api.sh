#!/usr/bin/env bash
# Benchmark: the REST API on loopback against a private PostgreSQL with
# durable commits (fsync on, synchronous_commit on). wrk drives
#   POST /v1/builds           enqueue throughput (target >= 1,500 req/s on 2 cores)
#   GET  /v1/builds/{id}      reads (target >= 10x the POST rate)
# and then one worker measures the queue latency from the commit of a POST
# to the job turning running (PostgreSQL's own clocks: started_at -
# created_at; target p50 < 20 ms). Not a test: nothing is asserted.
#   bench/api.sh [SECONDS] [CONNECTIONS]     (default 10 s, 32 connections)
set -uo pipefail
SECS=${1:-10}
CONNS=${2:-32}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"

need_tools kofarm wrk psql
[ -x "$KOFARM_SERVER" ] || die "no kofarm-server at $KOFARM_SERVER"
[ -x "$KOFARM_WORKER" ] || die "no kofarm-worker at $KOFARM_WORKER"
start_postgres
"$KOFARM_SERVER" migrate >/dev/null 2>&1 || die "migrate failed"
start_server KOFARM_PUBLIC_READ=0 KOFARM_ALLOW_FILE_URLS=1
TOKEN=$(new_token bench admin)
export TOKEN

BODY='{"source":{"git":{"url":"https://git.example.com/shop.git","ref":"main"}},"importpaths":["./cmd/app"],"platforms":["linux/amd64"]}'
cat >"$T/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
LUA
cat >"$T/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
LUA

rate() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
p50() { awk '/^ +50%/ {print $2}' "$1"; }
non2xx() { awk '/Non-2xx/ {print $NF}' "$1"; }

printf 'kofarm-server on %s, PostgreSQL 15 (fsync on), wrk %s s, %s connections, 2 threads\n\n' \
  "$SERVER_URL" "$SECS" "$CONNS"
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$T/post.lua" "$SERVER_URL/v1/builds" >"$T/post.out" 2>&1
POST=$(rate "$T/post.out")
ACCEPTED=$(psql_q "SELECT count(*) FROM jobs")
printf '%-40s %10s req/s   p50 %s   non-2xx %s   jobs committed %s\n' "POST /v1/builds" "$POST" \
  "$(p50 "$T/post.out")" "$(non2xx "$T/post.out")" "$ACCEPTED"

ID=$(psql_q "SELECT max(id) FROM jobs")
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$T/get.lua" "$SERVER_URL/v1/builds/$ID" >"$T/get.out" 2>&1
GET=$(rate "$T/get.out")
printf '%-40s %10s req/s   p50 %s   non-2xx %s\n' "GET /v1/builds/{id} (queued job)" "$GET" \
  "$(p50 "$T/get.out")" "$(non2xx "$T/get.out")"
# A finished job never changes, so the server may serve it from memory.
psql_q "UPDATE jobs SET state = 'canceled', finished_at = now() WHERE id = $((ID - 1))" >/dev/null
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$T/get.lua" "$SERVER_URL/v1/builds/$((ID - 1))" >"$T/getf.out" 2>&1
GETF=$(rate "$T/getf.out")
printf '%-40s %10s req/s   p50 %s   non-2xx %s\n' "GET /v1/builds/{id} (finished job)" "$GETF" \
  "$(p50 "$T/getf.out")" "$(non2xx "$T/getf.out")"
echo
printf 'POST rate / 1,500 = %s   (target >= 1)\n' "$(ratio "$POST" 1500)"
printf 'GET rate / POST rate = %s (queued), %s (finished)   (target >= 10)\n' \
  "$(ratio "$GET" "$POST")" "$(ratio "$GETF" "$POST")"

# Queue latency: an idle worker, POSTs one at a time 50 ms apart; the jobs
# fail at once (a file:// repository that does not exist; one attempt), so
# a slot is free for each: what is measured is the wake-up and the claim.
psql_q "UPDATE jobs SET state = 'canceled', finished_at = now() WHERE state = 'queued'" >/dev/null
BODY='{"source":{"git":{"url":"file:///nonexistent/repo.git","ref":"main"}},"importpaths":["./cmd/app"],"platforms":["linux/amd64"]}'
start_worker KOFARM_CONCURRENCY=2 KOFARM_ALLOW_FILE_URLS=1
sleep 1
FIRST=$(($(psql_q "SELECT max(id) FROM jobs") + 1))
for _ in $(seq 1 50); do
  curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data "${BODY%\}},\"max_attempts\":1}" "$SERVER_URL/v1/builds"
  sleep 0.05
done
sleep 1
LAT=$(psql_q "SELECT round(extract(epoch FROM percentile_cont(0.5) WITHIN GROUP
               (ORDER BY started_at - created_at)) * 1000, 1) FROM jobs WHERE id >= $FIRST AND started_at IS NOT NULL")
N=$(psql_q "SELECT count(*) FROM jobs WHERE id >= $FIRST AND started_at IS NOT NULL")
printf 'POST -> running, p50 over %s jobs = %s ms   (target < 20 ms)\n' "$N" "$LAT"
