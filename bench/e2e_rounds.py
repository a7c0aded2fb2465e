"""The timed part of bench/e2e.sh, in one process so that no client start-up
(curl, jq: ~10 ms each) is counted against the service. Per round: the
one-line change in both trees (untimed), then the API build of the new commit
(POST, follow the log to its end, GET the job) and a bare `go build` of the
same change. Then the last commit POSTed again (reuse). Prints one line per
measurement: "api|bare|reuse MICROSECONDS".
Environment: SERVER_URL TOKEN SRC BARE BARE_OUT ROUNDS."""
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

url = urllib.parse.urlparse(os.environ["SERVER_URL"])
token = os.environ["TOKEN"]
src, bare, bare_out = os.environ["SRC"], os.environ["BARE"], os.environ["BARE_OUT"]
rounds = int(os.environ.get("ROUNDS", "10"))
headers = {"Authorization": "Bearer " + token}
git_id = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]


def conn():
    return http.client.HTTPConnection(url.hostname, url.port, timeout=300)


def post(c, commit):
    body = json.dumps({"source": {"git": {"url": "file://" + src, "commit": commit}},
                       "importpaths": ["./cmd/server"], "platforms": ["linux/amd64"]})
    c.request("POST", "/v1/builds", body, dict(headers, **{"Content-Type": "application/json"}))
    r = c.getresponse()
    job = json.loads(r.read())
    if r.status not in (200, 201, 202):
        sys.exit("bench: POST answered %d: %s" % (r.status, job))
    return job


def build(c, commit):
    job = post(c, commit)
    # The log follow ends when the job does; the job is then read once.
    c.request("GET", "/v1/builds/%s/log?follow=1" % job["id"], headers=headers)
    r = c.getresponse()
    while r.read(65536):
        pass
    c.request("GET", "/v1/builds/%s" % job["id"], headers=headers)
    r = c.getresponse()
    return json.loads(r.read())["state"]


def change(n):
    for tree in (src, bare):
        path = os.path.join(tree, "cmd/server/main.go")
        with open(path) as f:
            text = f.read()
        text = re.sub(r'greeting := "hello from kofarm[^"]*"', 'greeting := "hello from kofarm %s\\\\n"' % n, text)
        with open(path, "w") as f:
            f.write(text)
    subprocess.run(["git", "-C", src] + git_id + ["commit", "-qam", "round %s" % n], check=True)
    return subprocess.run(["git", "-C", src, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def bare_build():
    subprocess.run(["go", "build", "-trimpath", "-o", bare_out, "./cmd/server"], cwd=bare, check=True,
                   env=dict(os.environ, CGO_ENABLED="0"))


c = conn()
commit = None
for i in range(1, rounds + 1):
    commit = change(i)
    t0 = time.monotonic_ns()
    state = build(c, commit)
    t1 = time.monotonic_ns()
    if state != "succeeded":
        sys.exit("bench: round %d ended %s" % (i, state))
    print("api", (t1 - t0) // 1000, flush=True)
    if os.environ.get("KF_BENCH_TRACE"):
        print("trace api %d %d" % (t0, t1), file=sys.stderr, flush=True)
    t0 = time.perf_counter_ns()
    bare_build()
    t1 = time.perf_counter_ns()
    print("bare", (t1 - t0) // 1000, flush=True)
for i in range(rounds):
    t0 = time.perf_counter_ns()
    job = post(c, commit)
    t1 = time.perf_counter_ns()
    if job.get("state") != "succeeded":
        sys.exit("bench: the same commit again was not reused (state %s)" % job.get("state"))
    print("reuse", (t1 - t0) // 1000, flush=True)
