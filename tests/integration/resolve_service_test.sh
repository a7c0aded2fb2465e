#!/usr/bin/env bash
# Resolves as a service: POST /v1/resolves (git, upload, inline YAML) with a
# real PostgreSQL, registry, server and worker; GET, list, log; release.yaml
# (every image: pinned and present per skopeo, ETag/304, HEAD, 409 while
# queued, 404); hostile and wrong inputs refused with 400 and nothing
# stored; failing jobs (missing files, invalid YAML, a symlink on the
# checkout); cancel; byte-identical repeats; result reuse; the remote CLI.
. "$(dirname "$0")/lib.sh"
need_kofarm
for b in "$KOFARM_SERVER" "$KOFARM_WORKER"; do
  [ -x "$b" ] || { fail "$b exists" "build it first (scripts/build.sh)"; finish; }
done

SHA='sha256:[0-9a-f]{64}'
chmod 711 "$T"
start_postgres
"$KOFARM_SERVER" migrate >/dev/null 2>&1
assert_eq "job_artifacts table exists" 1 "$(psql_q "SELECT count(*) FROM pg_tables WHERE tablename = 'job_artifacts'")"

start_registry
make_base "$REGISTRY/base/seed:latest" linux/amd64 || { fail "seed the base image"; finish; }
BASE=$REGISTRY/base/seed:latest
REPO=$REGISTRY/rs

# The hello module with manifests, as a git repository: main is good,
# branch bad has invalid YAML, branch link has a symlink to a directory.
SRC=$T/src
copy_fixture "$SRC"
mkdir -p "$SRC/config/sub"
cat >"$SRC/config/app.yaml" <<'EOF'
# the app
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels: {app: hello}
spec:
  template:
    spec:
      containers:
      - name: app
        image: ko://example.com/hello/cmd/app   # built
      - name: again
        image: "ko://example.com/hello/cmd/app"
EOF
cat >"$SRC/config/sub/server.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: server
  labels:
    app: server
spec:
  containers:
  - image: ko://example.com/hello/cmd/server
EOF
gitc() { git -C "$SRC" -c user.name=t -c user.email=t@example.com "$@"; }
git -C "$SRC" init -q -b main
gitc add -A
gitc commit -q -m init
gitc checkout -q -b bad
printf 'kind: Pod\nspec: [unclosed\n' >"$SRC/config/bad.yaml"
gitc add -A
gitc commit -q -m bad
gitc checkout -q main
gitc checkout -q -b link
ln -s sub "$SRC/config/sublink" # inside the tree: git allows it, resolve does not follow it
gitc add -A
gitc commit -q -m link
gitc checkout -q main
URL=file://$SRC

go_shim # $T/bin/go: pauses go build when the job's env has KF_TEST_SLEEP

start_server KOFARM_ALLOW_FILE_URLS=1
TOKEN=$(new_token writer)

err_code() { jq -r '.error.code // empty' <<<"$BODY" 2>/dev/null; }
err_msg() { jq -r '.error.message // empty' <<<"$BODY" 2>/dev/null; }
post() { api POST /v1/resolves -H 'Content-Type: application/json' --data-binary "$1"; }
req() { # JQ_FILTER...: a git resolve request of config/ at main, changed by the filters
  local s f
  s=$(jq -cn --arg url "$URL" '{source: {git: {url: $url, ref: "main"}}, files: ["config/"],
        platforms: ["linux/amd64"], naming: "base"}')
  for f in "$@"; do s=$(jq -c "$f" <<<"$s"); done
  printf '%s' "$s"
}
release() { # ID [curl args]: GET release.yaml into $T/release.<ID>; sets HTTP_CODE, HEADERS
  local id=$1
  shift
  rm -f "$T/release.$id"
  HTTP_CODE=$(curl -s -o "$T/release.$id" -D "$T/headers.$id" -w '%{http_code}' \
              -H "Authorization: Bearer $TOKEN" "$@" "$SERVER_URL/v1/resolves/$id/release.yaml")
  HEADERS=$(tr -d '\r' <"$T/headers.$id")
}
header() { awk -v h="$1" 'BEGIN{IGNORECASE=1} index(tolower($0), tolower(h) ":") == 1 {sub(/^[^:]*: */, ""); print}' <<<"$HEADERS"; }
# every_image_pinned FILE: each image: value is REPO/...@sha256 and the registry has it.
every_image_pinned() {
  local f=$1 n=0 bad="" img
  while read -r img; do
    n=$((n + 1))
    [[ "$img" =~ @sha256:[0-9a-f]{64}$ ]] || bad+=" $img(unpinned)"
    skopeo inspect --raw --tls-verify=false "docker://$img" >/dev/null 2>&1 || bad+=" $img(missing)"
  done < <(grep -o 'image: .*' "$f" | sed -e 's/^image: *//' -e 's/ *#.*//' -e 's/"//g')
  if [ -z "$bad" ] && [ "$n" -gt 0 ]; then pass "$2 ($n images)"; else fail "$2" "n=$n$bad"; fi
}

# ---------------------------------------------------------------- before any worker: 409 while queued
post "$(req)"
assert_eq "POST /v1/resolves (git) 202" 202 "$HTTP_CODE"
ID=$(jq -r .id <<<"$BODY")
assert_eq "kind resolve" resolve "$(jq -r .kind <<<"$BODY")"
assert_eq "spec has files" '["config/"]' "$(jq -c .spec.files <<<"$BODY")"
assert_eq "spec defaults" 'false true false null null' \
  "$(jq -r '[.spec.recursive, .spec.strict, .spec.pin_tags, .spec.selector, .spec.yaml] | map(tostring) | join(" ")' <<<"$BODY")"
assert_eq "spec has no importpaths" null "$(jq -c .spec.importpaths <<<"$BODY")"
release "$ID"
assert_eq "release.yaml while queued: 409" 409 "$HTTP_CODE"
assert_eq "409 is a JSON error" conflict "$(jq -r .error.code "$T/release.$ID")"
release 999999
assert_eq "release.yaml of an unknown id: 404" 404 "$HTTP_CODE"
api GET "/v1/builds/$ID"
assert_eq "a resolve is not a build: 404" 404 "$HTTP_CODE"
api GET "/v1/builds/$ID/release.yaml"
assert_eq "builds have no release.yaml: 404" 404 "$HTTP_CODE"
api POST "/v1/resolves/$ID/release.yaml"
assert_eq "POST release.yaml: 405" 405 "$HTTP_CODE"
api GET "/v1/resolves/abc/release.yaml"
assert_eq "bad id: 400" 400 "$HTTP_CODE"

# ---------------------------------------------------------------- bad requests: 400, nothing stored
before=$(psql_q "SELECT count(*) FROM jobs")
bad() { # NAME BODY FIELD_IN_MESSAGE
  post "$2"
  if [ "$HTTP_CODE" = 400 ] && [[ "$(err_msg)" == *"$3"* ]]; then pass "400: $1"
  else fail "400: $1" "got $HTTP_CODE: $BODY"; fi
}
bad "files with .." "$(req '.files = ["../x"]')" "files[0]"
bad "files with inner .." "$(req '.files = ["config/../../etc"]')" "files[0]"
bad "absolute file" "$(req '.files = ["config/", "/etc/passwd"]')" "files[1]"
bad "stdin file" "$(req '.files = ["-"]')" "files[0]"
bad "files not an array" "$(req '.files = "config/"')" "files"
bad "files of numbers" "$(req '.files = [1]')" "files[0]"
bad "files empty" "$(req '.files = []')" "files"
bad "no files nor yaml" "$(req 'del(.files)')" "files"
bad "files and yaml" "$(req '.yaml = "a: b"')" "not both"
bad "yaml not a string" "$(req 'del(.files) | .yaml = 3')" "yaml"
bad "recursive not a bool" "$(req '.recursive = "yes"')" "recursive"
bad "strict not a bool" "$(req '.strict = 1')" "strict"
bad "pin_tags not a bool" "$(req '.pin_tags = "true"')" "pin_tags"
bad "bad selector" "$(req '.selector = "a in ("')" "selector"
bad "selector not a string" "$(req '.selector = ["a"]')" "selector"
bad "importpaths on a resolve" "$(req '.importpaths = ["./cmd/app"]')" "importpaths"
bad "unknown field" "$(req '.filez = ["x"]')" "filez"
bad "bad build option (platforms)" "$(req '.platforms = ["nope"]')" "platforms"
bad "bad build option (naming)" "$(req '.naming = "weird"')" "naming"
bad "no source" "$(req 'del(.source)')" "source"
api POST '/v1/resolves?files=../x' -H 'Content-Type: application/gzip' --data-binary @<(tar cz -C "$SRC" config)
assert_eq "upload with files=../x: 400" 400 "$HTTP_CODE"
api POST '/v1/resolves?importpaths=./cmd/app' -H 'Content-Type: application/gzip' --data-binary @<(tar cz -C "$SRC" config)
assert_eq "upload with importpaths: 400" 400 "$HTTP_CODE"
assert_contains "names the parameter" importpaths "$(err_msg)"
api POST '/v1/resolves?files=config/&recursive=maybe' -H 'Content-Type: application/gzip' --data-binary @<(tar cz -C "$SRC" config)
assert_eq "upload with recursive=maybe: 400" 400 "$HTTP_CODE"
assert_eq "bad requests stored nothing" "$before" "$(psql_q "SELECT count(*) FROM jobs")"

# ---------------------------------------------------------------- the worker resolves
start_worker PATH="$T/bin:$PATH" KOFARM_REPO="$REPO" KOFARM_DEFAULT_BASE_IMAGE="$BASE" KOFARM_ALLOW_FILE_URLS=1 \
  KOFARM_LEASE_MS=3000 KOFARM_CONCURRENCY=2
state=$(wait_done "$ID" 180)
assert_eq "git resolve succeeds" succeeded "$state"
[ "$state" = succeeded ] || log "$(field "$ID" "error_code || ': ' || error_message")"
api GET "/v1/resolves/$ID"
assert_eq "GET /v1/resolves/ID 200" 200 "$HTTP_CODE"
JOB=$BODY
assert_eq "result: one unique reference (config/ without recursive)" "ko://example.com/hello/cmd/app" \
  "$(jq -r '[.result.references[].ref] | join(" ")' <<<"$JOB")"
assert_match "result: image pinned" "^$REPO/app@$SHA\$" "$(jq -r '.result.references[0].image' <<<"$JOB")"
assert_eq "result: uses counted" 2 "$(jq -r '.result.references[0].uses' <<<"$JOB")"
assert_match "result: where is relative" '^config/app.yaml:[0-9]+:[0-9]+$' "$(jq -r '.result.references[0].where' <<<"$JOB")"
assert_eq "result: release name" release.yaml "$(jq -r .result.release.name <<<"$JOB")"
assert_match "result: commit" '^[0-9a-f]{40}$' "$(jq -r .result.commit <<<"$JOB")"

release "$ID"
assert_eq "release.yaml 200" 200 "$HTTP_CODE"
assert_match "content type application/yaml" '^application/yaml' "$(header Content-Type)"
assert_eq "content disposition" 'attachment; filename="release.yaml"' "$(header Content-Disposition)"
sum=$(sha256sum "$T/release.$ID" | cut -d' ' -f1)
assert_eq "ETag is the sha256" "\"$sum\"" "$(header ETag)"
assert_eq "result sha256 matches" "$sum" "$(jq -r .result.release.sha256 <<<"$JOB")"
assert_eq "result size matches" "$(stat -c %s "$T/release.$ID")" "$(jq -r .result.release.size <<<"$JOB")"
assert_not_contains "no ko:// left" "ko://" "$(cat "$T/release.$ID")"
assert_contains "comments kept" "# the app" "$(cat "$T/release.$ID")"
assert_contains "quoted scalar stays quoted" "image: \"$REPO/app@sha256:" "$(cat "$T/release.$ID")"
assert_not_contains "not recursive: sub/ not read" "kind: Pod" "$(cat "$T/release.$ID")"
every_image_pinned "$T/release.$ID" "every image: pinned and in the registry"
cp "$T/release.$ID" "$T/first.yaml"
release "$ID" -H "If-None-Match: \"$sum\""
assert_eq "If-None-Match: 304" 304 "$HTTP_CODE"
assert_eq "304 has no body" 0 "$(stat -c %s "$T/release.$ID" 2>/dev/null || echo 0)"
release "$ID" -H 'If-None-Match: "0000", W/"'"$sum"'"'
assert_eq "If-None-Match list with a weak tag: 304" 304 "$HTTP_CODE"
release "$ID" -H 'If-None-Match: "other"'
assert_eq "other ETag: 200" 200 "$HTTP_CODE"
HTTP_CODE=$(curl -s -I -o "$T/head" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$SERVER_URL/resolves/$ID/release.yaml")
assert_eq "HEAD (unversioned path) 200" 200 "$HTTP_CODE"
assert_contains "HEAD has the ETag" "$sum" "$(cat "$T/head")"
api GET "/v1/resolves/$ID/log"
assert_eq "log 200" 200 "$HTTP_CODE"
assert_contains "log: resolving" "Resolving 1 file" "$BODY"
assert_contains "log: reference line" "ko://example.com/hello/cmd/app -> $REPO/app@sha256:" "$BODY"
api GET "/v1/resolves?limit=50"
assert_eq "list 200" 200 "$HTTP_CODE"
assert_contains "list has the resolve" "$ID" "$(jq -r '[.items[].id] | map(tostring) | join(" ")' <<<"$BODY")"
assert_eq "list has only resolves" resolve "$(jq -r '[.items[].kind] | unique | join(" ")' <<<"$BODY")"
api GET "/v1/builds?limit=50"
assert_eq "builds list has no resolves" "" "$(jq -r '.items[] | select(.kind == "resolve") | .id' <<<"$BODY")"

# ---- again, no cache: byte-identical
post "$(req '.no_cache = true')"
ID2=$(jq -r .id <<<"$BODY")
assert_eq "second resolve succeeds" succeeded "$(wait_done "$ID2" 180)"
release "$ID2"
if cmp -s "$T/first.yaml" "$T/release.$ID2"; then pass "resolved twice: byte-identical"
else fail "resolved twice: byte-identical" "$(diff "$T/first.yaml" "$T/release.$ID2" | head)"; fi

# ---- recursive, selector
post "$(req '.recursive = true | .selector = "app=server"')"
ID3=$(jq -r .id <<<"$BODY")
assert_eq "recursive + selector succeeds" succeeded "$(wait_done "$ID3" 180)"
release "$ID3"
assert_contains "recursive reads sub/" "kind: Pod" "$(cat "$T/release.$ID3")"
assert_not_contains "selector drops the Deployment" "Deployment" "$(cat "$T/release.$ID3")"
every_image_pinned "$T/release.$ID3" "recursive: images pinned and present"

# ---- upload, twice (the second reuses the result at submit)
tar cz -C "$SRC" --exclude .git . >"$T/src.tgz"
api POST "/v1/resolves?files=config/app.yaml,config/sub&platform=linux/amd64&naming=base&repo=$REPO&base_image=$BASE" \
  -H 'Content-Type: application/gzip' --data-binary @"$T/src.tgz"
assert_eq "upload POST 202" 202 "$HTTP_CODE"
UP=$(jq -r .id <<<"$BODY")
assert_eq "upload spec: files from the comma list" '["config/app.yaml","config/sub"]' "$(jq -c .spec.files <<<"$BODY")"
assert_eq "upload resolve succeeds" succeeded "$(wait_done "$UP" 180)"
release "$UP"
assert_eq "upload release 200" 200 "$HTTP_CODE"
every_image_pinned "$T/release.$UP" "upload: images pinned and present"
api POST "/v1/resolves?files=config/app.yaml,config/sub&platform=linux/amd64&naming=base&repo=$REPO&base_image=$BASE" \
  -H 'Content-Type: application/gzip' --data-binary @"$T/src.tgz"
UP2=$(jq -r .id <<<"$BODY")
assert_eq "same upload again: reused at once" "succeeded $UP" "$(jq -r '"\(.state) \(.result.reused_from)"' <<<"$BODY")"
release "$UP2"
assert_eq "reused job serves release.yaml" 200 "$HTTP_CODE"
cmp -s "$T/release.$UP" "$T/release.$UP2"
assert_eq "reused release.yaml is the same bytes" 0 $?

# ---- inline yaml
post "$(req 'del(.files) | .yaml = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: ko://example.com/hello/cmd/app\n"')"
assert_eq "inline yaml POST 202" 202 "$HTTP_CODE"
IN=$(jq -r .id <<<"$BODY")
assert_eq "inline yaml succeeds" succeeded "$(wait_done "$IN" 180)"
release "$IN"
assert_eq "inline release" "apiVersion: v1
kind: Pod
spec:
  containers:
  - image: $(jq -r '.result.references[0].image' <<<"$JOB")" "$(cat "$T/release.$IN")"

# ---- pin_tags: an image named by tag is looked up in its registry and pinned
PIN_YAML=$(printf 'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: ko://example.com/hello/cmd/app\n  - image: %s # sidecar\n' "$BASE")
post "$(req "del(.files) | .pin_tags = true | .yaml = $(jq -Rs . <<<"$PIN_YAML")")"
assert_eq "pin_tags POST 202" 202 "$HTTP_CODE"
PIN=$(jq -r .id <<<"$BODY")
assert_eq "pin_tags succeeds" succeeded "$(wait_done "$PIN" 180)"
release "$PIN"
BASE_DIGEST=sha256:$(skopeo inspect --raw --tls-verify=false "docker://$BASE" | sha256sum | cut -d' ' -f1)
assert_match "pin_tags: the tag is pinned to the registry's digest, the comment kept" \
  "  - image: $BASE@$BASE_DIGEST # sidecar" "$(cat "$T/release.$PIN")"
assert_match "pin_tags: ko:// still built" "image: $REPO/app@sha256:" "$(cat "$T/release.$PIN")"
api GET "/v1/resolves/$PIN"
assert_eq "pin_tags: the result lists the pinned tag" "$BASE@$BASE_DIGEST" \
  "$(jq -r --arg b "$BASE" '.result.references[] | select(.ref == $b) | .image' <<<"$BODY")"

# ---------------------------------------------------------------- jobs that fail with a clear error
fails() { # NAME REQUEST CODE MESSAGE_PART
  local id state
  post "$2"
  id=$(jq -r .id <<<"$BODY")
  state=$(wait_done "$id" 120)
  local code msg
  code=$(field "$id" error_code)
  msg=$(field "$id" error_message)
  if [ "$state" = failed ] && [ "$code" = "$3" ] && [[ "$msg" == *"$4"* ]]; then pass "fails: $1"
  else fail "fails: $1" "state=$state code=$code msg=$msg"; fi
  release "$id"
  assert_eq "$1: release.yaml 409" 409 "$HTTP_CODE"
}
fails "missing file" "$(req '.files = ["config/nope.yaml"]')" not_found "config/nope.yaml"
fails "no YAML under a directory" "$(req '.files = ["cmd"]')" not_found "no *.yaml"
fails "invalid YAML in the repo" "$(req '.source.git.ref = "bad"')" bad_request "config/bad.yaml:"
fails "a path through a symlink" "$(req '.source.git.ref = "link" | .files = ["config/sublink/server.yaml"]')" bad_request "symbolic links"
fails "a symlink named as a file" "$(req '.source.git.ref = "link" | .files = ["config/sublink"]')" bad_request "symbolic links"
fails "a symlink dir in a recursive walk" "$(req '.source.git.ref = "link" | .recursive = true')" bad_request "symbolic links"
fails "a ko:// that is not a main package" "$(req 'del(.files) | .yaml = "image: ko://example.com/hello/pkg/lib\n"')" build_failed "example.com/hello/pkg/lib"
assert_eq "failed jobs stored no artifact" 0 "$(psql_q "SELECT count(*) FROM job_artifacts a JOIN jobs j ON j.id = a.job_id WHERE j.state <> 'succeeded'")"

# ---------------------------------------------------------------- cancel a running resolve
# The slow go is reached through the job's env, which the API refuses: insert the row.
slow=$(psql_q "SELECT spec FROM jobs WHERE id = $ID2" | jq -c '.env = ["KF_TEST_SLEEP=60"]')
CID=$(psql_q "INSERT INTO jobs (kind, spec) VALUES ('resolve', \$s\$$slow\$s\$) RETURNING id")
for i in $(seq 1 600); do [ "$(field "$CID" state)" = running ] && break; sleep 0.1; done
sleep 1
api POST "/v1/resolves/$CID/cancel"
assert_eq "cancel 200" 200 "$HTTP_CODE"
assert_eq "running resolve canceled" canceled "$(wait_done "$CID" 60)"
release "$CID"
assert_eq "canceled: release.yaml 409" 409 "$HTTP_CODE"
api POST "/v1/resolves/$CID/retry"
assert_eq "retry a canceled resolve 202" 202 "$HTTP_CODE"
assert_eq "the retry is a resolve" resolve "$(jq -r .kind <<<"$BODY")"
api POST "/v1/resolves/$(jq -r .id <<<"$BODY")/cancel"
assert_eq "cancel the retry" 200 "$HTTP_CODE"

# ---------------------------------------------------------------- metrics
api GET /metrics
assert_contains "metrics: release route label" 'route="/v1/resolves/{id}/release.yaml",code="304"' "$BODY"
assert_contains "metrics: resolves route label" 'route="/v1/resolves",code="202"' "$BODY"

# ---------------------------------------------------------------- the remote CLI
MOD=$T/mod
copy_fixture "$MOD"
cp -a "$SRC/config" "$MOD/"
export KO_DEFAULTBASEIMAGE=$BASE KO_DOCKER_REPO=$REPO KOFARM_INSECURE_REGISTRIES=$REGISTRY
kf_in "$MOD/config" resolve -f . -R -B --platform linux/amd64
assert_kf_ok "local resolve in the module"
cp "$T/kf.out" "$T/local.yaml"
kf_in "$MOD/config" --server "$SERVER_URL" --token "$TOKEN" resolve -f . -R -B --platform linux/amd64
assert_kf_ok "remote resolve"
assert_contains "remote: submitted" "submitted resolve" "$KF_ERR"
if cmp -s "$T/local.yaml" "$T/kf.out"; then pass "remote resolve prints what a local resolve prints"
else fail "remote resolve prints what a local resolve prints" "$(diff "$T/local.yaml" "$T/kf.out" | head)"; fi
kf_in "$MOD" --server "$SERVER_URL" --token "$TOKEN" resolve -f config/nope.yaml -B --platform linux/amd64
assert_kf_fails "remote resolve of a missing file fails with the job's error" 1 "config/nope.yaml"
kf_in "$MOD" --server "$SERVER_URL" --token "$TOKEN" resolve -f ../outside.yaml
assert_kf_fails "remote resolve of a file outside the module fails" 1 "outside the module"
kf_in "$MOD" --server "$SERVER_URL" --token "$TOKEN" resolve -f -
assert_kf_fails "remote resolve of stdin is refused" 2 "stdin"
kf_in "$MOD" --server "$SERVER_URL" --token "$TOKEN" resolve -B --platform linux/amd64 --git "$URL" --ref main -f config/
assert_kf_ok "remote resolve --git"
if cmp -s "$T/first.yaml" "$T/kf.out"; then pass "remote --git gives the API's release.yaml"
else fail "remote --git gives the API's release.yaml" "$(diff "$T/first.yaml" "$T/kf.out" | head)"; fi

finish
