#!/usr/bin/env bash
# The web page: kofarm-server serving web/ (content types, ETag and 304,
# security headers, no way out of web/ with ".." however spelled, a
# browser navigation to /builds/{id} gets the page while curl and scripts
# keep getting JSON), then Debian's chromium driven by playwright-core
# (tests/web/browser_test.mjs) against the real stack: PostgreSQL, a
# registry, the server (public read, a token), a worker and a file:// git
# repository of the hello module. Screenshots go to BUILD/web-screenshots.
. "$(dirname "$0")/lib.sh"
need_kofarm
export -n KOFARM_SERVER
for bin in "$KOFARM_SERVER" "$KOFARM_WORKER"; do
  if [ ! -x "$bin" ]; then
    fail "binary exists: $bin" "build kofarm-server and kofarm-worker first (scripts/build.sh)"
    finish
  fi
done

BUILD_DIR=$(cd "$KF_BIN_DIR/.." && pwd)
NODE_DIR=$BUILD_DIR/web-test
SHOTS=$BUILD_DIR/web-screenshots
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
export GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z

start_registry
R=$REGISTRY
make_base "$R/base/seed:latest" linux/amd64 --user 65532 --env PATH=/usr/local/bin:/usr/bin:/bin ||
  { fail "seed the base image"; finish; }
BASE=$R/base/seed:latest

start_postgres
if ! "$KOFARM_SERVER" migrate >"$T/migrate.log" 2>&1; then
  fail "kofarm-server migrate" "$(tail -5 "$T/migrate.log")"
  finish
fi
start_server KOFARM_PUBLIC_READ=1 KOFARM_ALLOW_FILE_URLS=1 KOFARM_REPO="$R/web" KOFARM_DEFAULT_BASE_IMAGE="$BASE"
start_worker KOFARM_REPO="$R/web" KOFARM_DEFAULT_BASE_IMAGE="$BASE" KOFARM_INSECURE_REGISTRIES="$R" KOFARM_ALLOW_FILE_URLS=1
TOKEN=$(new_token web-test build)
ADMIN=$(new_token web-admin admin)
S=$SERVER_URL
BROWSER='text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'

# A git repository of the hello module, with a config/ for a resolve.
SRC=$T/git/hello
copy_fixture "$SRC"
mkdir -p "$SRC/config"
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello\nspec:\n  containers:\n  - name: app\n    image: ko://example.com/hello/cmd/app\n' \
  >"$SRC/config/pod.yaml"
git -C "$SRC" init -q -b main && git -C "$SRC" add -A && git -C "$SRC" commit -q -m init &&
  git -C "$SRC" tag v1.0.0 || { fail "make the git repository"; finish; }

# fetch_web PATH [curl args...]: HEAD_OUT gets the response headers
# (lower-cased names), HTTP_CODE the status, BODY the body.
fetch_web() {
  local p=$1
  shift
  rm -f "$T/h" "$T/b"
  curl -s -D "$T/h" -o "$T/b" -w '%{http_code}' "$@" "$S$p" >"$T/code"
  HTTP_CODE=$(cat "$T/code")
  HEAD_OUT=$(tr -d '\r' <"$T/h" | sed 's/^\([^:]*\):/\L\1:/')
  BODY=$(cat "$T/b" 2>/dev/null)
}
header() { sed -n "s/^$1: //p" <<<"$HEAD_OUT" | head -n1; }

# ---------------------------------------------------------------- static files

fetch_web /
assert_eq "GET / 200" 200 "$HTTP_CODE"
assert_eq "GET / is text/html" "text/html; charset=utf-8" "$(header content-type)"
assert_eq "GET / is web/index.html" "$(cat "$KF_ROOT/web/index.html")" "$BODY"
assert_eq "Content-Security-Policy default-src 'self'" "default-src 'self'" "$(header content-security-policy | cut -d';' -f1)"
assert_eq "X-Content-Type-Options nosniff" nosniff "$(header x-content-type-options)"
assert_eq "Cache-Control no-cache (revalidate)" no-cache "$(header cache-control)"
ETAG=$(header etag)
assert_match "a strong ETag" '^"[0-9a-f]{32}"$' "$ETAG"
fetch_web / -H "If-None-Match: $ETAG"
assert_eq "If-None-Match with the ETag: 304" 304 "$HTTP_CODE"
assert_eq "304 has no body" "" "$BODY"
fetch_web / -H 'If-None-Match: "0000"'
assert_eq "another ETag: 200" 200 "$HTTP_CODE"
for f in app.js:text/javascript app.css:text/css favicon.svg:image/svg+xml index.html:text/html; do
  fetch_web "/web/${f%%:*}"
  assert_eq "/web/${f%%:*} 200 ${f#*:}" "200 ${f#*:}" "$HTTP_CODE $(header content-type | cut -d';' -f1)"
  assert_eq "/web/${f%%:*} is web/${f%%:*}" "$(cat "$KF_ROOT/web/${f%%:*}")" "$BODY"
done
out=$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' "$S/web/app.js")
assert_eq "HEAD /web/app.js 200, no body" "200 0" "$out"
fetch_web / -X POST
assert_eq "POST / is 405 JSON" "405 method_not_allowed" "$HTTP_CODE $(jq -r .error.code <<<"$BODY")"
assert_eq "405 names GET, HEAD" "GET, HEAD" "$(header allow)"
fetch_web /web/app.js -X DELETE
assert_eq "DELETE /web/app.js 405" 405 "$HTTP_CODE"
api GET /healthz
fetch_web /healthz
assert_eq "API answers carry nosniff too" nosniff "$(header x-content-type-options)"

# Hostile paths: nothing outside web/, no hidden files, no directories.
for p in '/web/../api/openapi.yaml' '/web/%2e%2e/api/openapi.yaml' '/web/%2E%2E%2Fapi%2Fopenapi.yaml' \
         '/web/..%2f..%2fetc%2fpasswd' '/web/%2e%2e%2f%2e%2e%2fetc%2fpasswd' '/web/.hidden.js' '/web/' '/web/nope.js' \
         '/web/sub%2fapp.js' '/web/README' '/web/x.yaml' '/web/..' '/web//etc/passwd'; do
  fetch_web "$p" --path-as-is
  assert_eq "GET $p is 404 JSON" "404 not_found" "$HTTP_CODE $(jq -r .error.code <<<"$BODY" 2>/dev/null)"
done
fetch_web "/web/$(printf 'a%.0s' $(seq 1 300)).js"
assert_eq "an over-long name is 404" 404 "$HTTP_CODE"

# ---------------------------------------------------------------- negotiation
# A build to look at (the browser part builds its own).
api POST /v1/builds -H 'Content-Type: application/json' --data-binary \
  "$(jq -cn --arg url "file://$SRC" '{source: {git: {url: $url, ref: "main"}}, importpaths: ["./cmd/app"], platforms: ["linux/amd64"]}')"
assert_eq "a build is submitted" 202 "$HTTP_CODE"
ID=$(jq -r .id <<<"$BODY")

fetch_web "/builds/$ID"
assert_eq "GET /builds/ID without Accept: JSON" "200 application/json $ID" "$HTTP_CODE $(header content-type) $(jq -r .id <<<"$BODY")"
fetch_web "/builds/$ID" -H 'Accept: */*'
assert_eq "Accept */* (curl): JSON" "200 application/json" "$HTTP_CODE $(header content-type)"
fetch_web "/builds/$ID" -H 'Accept: application/json'
assert_eq "Accept application/json: JSON" "200 application/json" "$HTTP_CODE $(header content-type)"
fetch_web "/builds/$ID" -H 'Accept: text/html, application/json'
assert_eq "html and JSON tied: JSON" "application/json" "$(header content-type)"
fetch_web "/builds/$ID" -H 'Accept: application/json, text/html;q=0.9'
assert_eq "JSON preferred: JSON" "application/json" "$(header content-type)"
fetch_web "/builds/$ID" -H 'Accept: text/html;q=0'
assert_eq "text/html;q=0: JSON" "application/json" "$(header content-type)"
fetch_web "/builds/$ID" -H "Accept: $BROWSER"
assert_eq "a browser navigation gets the page" "200 text/html; charset=utf-8" "$HTTP_CODE $(header content-type)"
assert_eq "the page is index.html" "$(cat "$KF_ROOT/web/index.html")" "$BODY"
assert_eq "the page varies by Accept" Accept "$(header vary)"
assert_eq "the page has the CSP" "default-src 'self'" "$(header content-security-policy | cut -d';' -f1)"
fetch_web "/builds/$ID" -H 'Accept: text/*'
assert_eq "Accept text/* prefers html" "text/html; charset=utf-8" "$(header content-type)"
fetch_web "/v1/builds/$ID" -H "Accept: $BROWSER"
assert_eq "/v1/builds/ID is always JSON" "200 application/json" "$HTTP_CODE $(header content-type)"
fetch_web "/builds/$ID/log" -H "Accept: $BROWSER"
assert_eq "/builds/ID/log stays the log" "200 text/plain" "$HTTP_CODE $(header content-type | cut -d';' -f1)"
fetch_web "/builds" -H "Accept: $BROWSER"
assert_eq "/builds (the list) stays JSON" "200 application/json" "$HTTP_CODE $(header content-type)"
fetch_web "/builds/abc" -H "Accept: $BROWSER"
assert_eq "/builds/abc stays the API's 400" "400 application/json" "$HTTP_CODE $(header content-type)"
fetch_web "/builds/$ID" -X POST -H "Accept: $BROWSER"
assert_eq "POST /builds/ID stays the API's 405" 405 "$HTTP_CODE"
fetch_web "/resolves/$ID" -H "Accept: $BROWSER"
assert_eq "/resolves/ID in a browser is the page" "text/html; charset=utf-8" "$(header content-type)"
fetch_web "/projects" -H "Accept: $BROWSER"
assert_eq "/projects in a browser is the page" "text/html; charset=utf-8" "$(header content-type)"
fetch_web "/projects"
assert_eq "/projects for curl is the API (JSON)" "application/json" "$(header content-type)"
fetch_web "/builds/$ID" -H "Accept: $(printf 'text/html;q=0.5,%.0s' $(seq 1 600))"
assert_eq "a huge Accept header is not the page" "application/json" "$(header content-type)"
out=$(curl -s "$S/metrics")
assert_contains "metrics count the web route" 'route="/web"' "$out"

# More jobs than one page (20), finished, in project "archive": the page's
# pagination and project filter get something to work on.
psql_q "INSERT INTO jobs (kind, state, spec, project, requested_by, finished_at, error_code, error_message)
        SELECT 'build', 'canceled', spec, 'archive', 'seed', now(), 'canceled', 'seeded'
        FROM jobs, generate_series(1, 24) WHERE id = $ID" >/dev/null
assert_eq "24 archived jobs seeded" 24 "$(psql_q "SELECT count(*) FROM jobs WHERE project = 'archive'")"

# ---------------------------------------------------------------- the browser

browser_ok=1
if [ ! -x /usr/bin/chromium ]; then
  fail "chromium is installed (scripts/deps.sh)"; browser_ok=0
elif ! command -v npm >/dev/null; then
  fail "npm is installed"; browser_ok=0
fi
if [ "$browser_ok" = 1 ]; then
  # playwright-core into the build directory (never the source tree), again
  # only when the lock file changed.
  mkdir -p "$NODE_DIR"
  if ! cmp -s "$KF_ROOT/tests/web/package-lock.json" "$NODE_DIR/package-lock.json" ||
     [ ! -f "$NODE_DIR/node_modules/playwright-core/package.json" ]; then
    cp "$KF_ROOT/tests/web/package.json" "$KF_ROOT/tests/web/package-lock.json" "$NODE_DIR/"
    if ! (cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund >"$T/npm.log" 2>&1); then
      fail "npm ci playwright-core into $NODE_DIR" "$(tail -5 "$T/npm.log")"
      browser_ok=0
      rm -f "$NODE_DIR/package-lock.json"
    fi
  fi
fi
if [ "$browser_ok" = 1 ]; then
  rm -rf "$SHOTS"
  KF_WEB_URL=$S KF_WEB_TOKEN=$TOKEN KF_WEB_GIT_URL=file://$SRC KF_WEB_IMPORTPATH=./cmd/app KF_WEB_PLATFORMS=linux/amd64 \
    KF_WEB_SHOTS=$SHOTS KF_WEB_NODE_MODULES=$NODE_DIR/node_modules KF_WEB_RESOLVE_FILES=config/ \
    KF_WEB_ADMIN_TOKEN=$ADMIN KF_WEB_GIT_COMMIT=$(git -C "$SRC" rev-parse HEAD) \
    timeout -k 10 900 node "$KF_ROOT/tests/web/browser_test.mjs" >"$T/browser.out" 2>&1
  rc=$?
  grep -E '^(ok  |FAIL|     |# )' "$T/browser.out"
  n_ok=$(grep -c '^ok  ' "$T/browser.out")
  n_fail=$(grep -c '^FAIL' "$T/browser.out")
  KF_PASSED=$((KF_PASSED + n_ok))
  KF_FAILED=$((KF_FAILED + n_fail))
  if [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then
    fail "the browser test exits 0 (rc $rc)" "$(tail -20 "$T/browser.out")"
  fi
  shots=$(find "$SHOTS" -name '*.png' 2>/dev/null | wc -l)
  assert_match "screenshots saved under $SHOTS (phone, desktop, light, dark)" '^([8-9]|[1-9][0-9])$' "$shots"
fi
finish
