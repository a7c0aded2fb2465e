#!/usr/bin/env bash
# The team farm against a private PostgreSQL and the real server: projects
# (CRUD, validation, write-only secret), webhook deliveries from GitHub,
# GitLab and Gitea fixtures (signed, unsigned, wrong, redelivered, deleted
# refs, rule matching), releases with ETags and semver "latest", the
# audit log, project-limited tokens and scope refusals on every new
# endpoint, rate limits, and fair claims by a real worker (50 jobs of A
# queued before 2 of B; B's start before A's queue drains).
. "$(dirname "$0")/lib.sh"

if [ ! -x "$KOFARM_SERVER" ] || [ ! -x "$KOFARM_WORKER" ]; then
  fail "kofarm-server and kofarm-worker exist" "build them first (scripts/build.sh)"
  finish
fi
[ "$(id -u)" = 0 ] && chmod 711 "$T"
start_postgres
HOOKS=$KF_ROOT/tests/fixtures/hooks
SECRET="It's a Secret to Everybody"
URL=https://git.example.com/shop.git

err_code() { jq -r '.error.code // empty' <<<"$BODY" 2>/dev/null; }
jobs_count() { psql_q "SELECT count(*) FROM jobs"; }
# as TOKEN METHOD PATH [curl args]: api with another token ("" = none).
as() { local TOKEN=$1; shift; api "$@"; }
json() { api "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"; }
hmac() { openssl dgst -sha256 -hmac "$2" -hex <"$1" | awk '{print $NF}'; }
# deliver HOST PROJECT FILE [curl args]: POST the file as a delivery.
deliver() {
  local host=$1 project=$2 file=$3
  shift 3
  as "" POST "/v1/hooks/$host/$project" -H 'Content-Type: application/json' --data-binary "@$file" "$@"
}
# github FILE EVENT DELIVERY [SECRET]: a signed GitHub delivery to shop.
github() {
  deliver github shop "$1" -H "X-GitHub-Event: $2" -H "X-GitHub-Delivery: $3" \
    -H "X-Hub-Signature-256: sha256=$(hmac "$1" "${4:-$SECRET}")"
}
# tagged NAME [SHA]: the GitHub tag fixture for another tag (and commit).
tagged() {
  jq --arg r "refs/tags/$1" --arg c "${2:-0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c}" \
    '.ref = $r | .head_commit.id = $c' "$HOOKS/github-push-tag.json" >"$T/tag-$1.json"
  echo "$T/tag-$1.json"
}

start_server KOFARM_ACCESS_LOG=0
ADMIN=$(new_token admin admin)
WRITER=$(new_token writer)
READER=$(new_token reader read)
# limited NAME PROJECT SCOPES: a token limited to PROJECT (scopes comma-separated).
limited() { "$KOFARM_SERVER" token create --name "$1" --project "$2" --scope "$3" | tail -n1; }
SHOPADMIN=$(limited shopadmin shop admin)
SHOPBUILD=$(limited shopbuild shop read,build)
OTHER=$(limited otherbuild other build)
assert_match "project-limited token created" '^kf_[0-9a-f]{40}$' "$SHOPBUILD"
assert_eq "token stores its project" shop "$(psql_q "SELECT project FROM api_tokens WHERE name = 'shopbuild'")"
assert_eq "comma scopes split" "{read,build}" "$(psql_q "SELECT scopes FROM api_tokens WHERE name = 'shopbuild'")"
"$KOFARM_SERVER" token create --name bad1 --project 'No/Such' >/dev/null 2>&1
assert_eq "token create refuses a bad project name" 1 $?
assert_contains "token list shows the project" '"project": "shop"' "$("$KOFARM_SERVER" token list)"

# ---------------------------------------------------------------- projects

SHOP=$(jq -cn --arg url "$URL" --arg secret "$SECRET" '{name: "shop", git: {url: $url}, webhook_secret: $secret,
  max_concurrency: 4,
  rules: [{on: "push", branches: ["main", "master", "develop"], build: {importpaths: ["./cmd/api"]}},
          {on: "tag", tags: ["v*"], resolve: {files: ["config/"]}}],
  defaults: {repo: "registry.example.com/shop", platforms: ["linux/amd64", "linux/arm64"]}}')
TOKEN=
json POST /v1/projects "$SHOP"
assert_eq "create without a token 401" 401 "$HTTP_CODE"
TOKEN=$READER json POST /v1/projects "$SHOP"
assert_eq "create with a read token 403" 403 "$HTTP_CODE"
TOKEN=$WRITER json POST /v1/projects "$SHOP"
assert_eq "create with a build token 403" 403 "$HTTP_CODE"
TOKEN=$OTHER json POST /v1/projects "$SHOP"
assert_eq "create by another project's token 403" 403 "$HTTP_CODE"
assert_eq "refusals store nothing" 0 "$(psql_q "SELECT count(*) FROM projects")"

TOKEN=$ADMIN
json POST /v1/projects "$SHOP"
assert_eq "create 201" 201 "$HTTP_CODE"
assert_eq "name back" shop "$(jq -r .name <<<"$BODY")"
assert_eq "secret never returned" "null" "$(jq -r .webhook_secret <<<"$BODY")"
assert_eq "secret set flag" true "$(jq -r .webhook_secret_set <<<"$BODY")"
assert_not_contains "secret text nowhere in the answer" "Secret to Everybody" "$BODY"
json POST /v1/projects "$SHOP"
assert_eq "same name again 409" 409 "$HTTP_CODE"
json POST /v1/projects "$(jq -c '.name = "other" | .webhook_secret = "gl-token"' <<<"$SHOP")"
assert_eq "second project 201" 201 "$HTTP_CODE"
for bad in '{"name":"Bad Name","git":{"url":"https://x/y.git"}}' \
           '{"name":"x","git":{"url":"ext::sh -c touch% /tmp/pwned"}}' \
           '{"name":"x","git":{"url":"file:///etc"}}' \
           '{"name":"x","git":{"url":"https://x/y.git"},"rules":[{"on":"push","branches":["main"]}]}' \
           '{"name":"x","git":{"url":"https://x/y.git"},"rules":[{"on":"tag","tags":["v*"],"resolve":{"files":["../up"]}}]}' \
           '{"name":"x","git":{"url":"https://x/y.git"},"defaults":{"naming":"weird"}}' \
           '{"name":"x","git":{"url":"https://x/y.git"},"max_concurrency":-1}' \
           '{"name":"x","git":{"url":"https://x/y.git"},"surprise":1}' \
           '[1]' 'not json'; do
  json POST /v1/projects "$bad"
  assert_eq "bad project refused 400: ${bad:0:60}" 400 "$HTTP_CODE"
done
api POST /v1/projects -H 'Content-Type: text/plain' --data-binary "$SHOP"
assert_eq "non-JSON content type 415" 415 "$HTTP_CODE"
assert_eq "bad documents store nothing" 2 "$(psql_q "SELECT count(*) FROM projects")"

as "" GET /v1/projects
assert_eq "list without a token 401" 401 "$HTTP_CODE"
api GET /v1/projects
assert_eq "list 200" 200 "$HTTP_CODE"
assert_eq "list has both" "other shop" "$(jq -r '[.items[].name] | join(" ")' <<<"$BODY")"
assert_not_contains "list hides secrets" "Secret to Everybody" "$BODY"
as "$READER" GET /projects/shop
assert_eq "unversioned get with a read token" 200 "$HTTP_CODE"
as "" GET /v1/projects/shop
assert_eq "get without a token 401" 401 "$HTTP_CODE"
as "$OTHER" GET /v1/projects/shop
assert_eq "get another project's 403" 403 "$HTTP_CODE"
as "$SHOPBUILD" GET /v1/projects
assert_eq "a limited token lists only its project" "shop" "$(jq -r '[.items[].name] | join(" ")' <<<"$BODY")"
api GET /v1/projects/nope
assert_eq "unknown project 404" 404 "$HTTP_CODE"

# Credentials in a project's git URL are stored for the worker, never shown.
json POST /v1/projects '{"name":"creds","git":{"url":"https://bot:s3cr3t-pass@git.example.com/c.git"}}'
assert_eq "project with credentials in its URL 201" 201 "$HTTP_CODE"
assert_not_contains "create answer hides the URL's password" "s3cr3t-pass" "$BODY"
api GET /v1/projects/creds
assert_eq "get shows the URL without its password" "https://***@git.example.com/c.git" "$(jq -r .git.url <<<"$BODY")"
api GET /v1/projects
assert_not_contains "list hides the URL's password" "s3cr3t-pass" "$BODY"
assert_eq "the stored URL keeps it" "https://bot:s3cr3t-pass@git.example.com/c.git" \
  "$(psql_q "SELECT git_url FROM projects WHERE name = 'creds'")"
api DELETE /v1/projects/creds
assert_eq "delete it again 204" 204 "$HTTP_CODE"
api PUT /v1/projects/shop
assert_eq "PUT 405" 405 "$HTTP_CODE"

TOKEN=$WRITER api PATCH /v1/projects/shop -H 'Content-Type: application/json' --data-binary '{"max_concurrency": 2}'
assert_eq "patch with a build token 403" 403 "$HTTP_CODE"
TOKEN=$OTHER api PATCH /v1/projects/shop -H 'Content-Type: application/json' --data-binary '{"max_concurrency": 2}'
assert_eq "patch by another project's token 403" 403 "$HTTP_CODE"
TOKEN=$SHOPADMIN api PATCH /v1/projects/shop -H 'Content-Type: application/json' --data-binary '{"max_concurrency": 3}'
assert_eq "patch by its project's admin 200" 200 "$HTTP_CODE"
assert_eq "patched field" 3 "$(jq -r .max_concurrency <<<"$BODY")"
assert_eq "patch keeps the rules" 2 "$(jq -r '.rules | length' <<<"$BODY")"
assert_eq "patch keeps the secret" "$SECRET" "$(psql_q "SELECT webhook_secret FROM projects WHERE name = 'shop'")"
json PATCH /v1/projects/shop '{"name": "renamed"}'
assert_eq "rename refused 400" 400 "$HTTP_CODE"
json PATCH /v1/projects/shop '{"rules": [{"on": "push"}]}'
assert_eq "bad patch 400" 400 "$HTTP_CODE"
assert_eq "bad patch changes nothing" 2 "$(psql_q "SELECT jsonb_array_length(rules) FROM projects WHERE name = 'shop'")"
json PATCH /v1/projects/nope '{"max_concurrency": 2}'
assert_eq "patch unknown 404" 404 "$HTTP_CODE"

json POST /v1/projects '{"name": "tmp", "git": {"url": "https://x/y.git"}}'
TOKEN=$WRITER api DELETE /v1/projects/tmp
assert_eq "delete with a build token 403" 403 "$HTTP_CODE"
as "" DELETE /v1/projects/tmp
assert_eq "delete without a token 401" 401 "$HTTP_CODE"
as "$SHOPADMIN" DELETE /v1/projects/tmp
assert_eq "delete by another project's admin 403" 403 "$HTTP_CODE"
as "" PATCH /v1/projects/tmp -H 'Content-Type: application/json' --data-binary '{}'
assert_eq "patch without a token 401" 401 "$HTTP_CODE"
api DELETE /v1/projects/tmp
assert_eq "delete 204" 204 "$HTTP_CODE"
api DELETE /v1/projects/tmp
assert_eq "delete again 404" 404 "$HTTP_CODE"

# ---------------------------------------------------------------- webhooks: GitHub

before=$(jobs_count)
github "$HOOKS/github-ping.json" ping ping-1
assert_eq "github ping 200" 200 "$HTTP_CODE"
assert_eq "ping answered" ping "$(jq -r .event <<<"$BODY")"
deliver github shop "$HOOKS/github-ping.json" -H 'X-GitHub-Event: ping'
assert_eq "unsigned ping 401" 401 "$HTTP_CODE"
github "$HOOKS/github-push.json" push d-1 "wrong secret"
assert_eq "wrong signature 401" 401 "$HTTP_CODE"
deliver github shop "$HOOKS/github-push.json" -H 'X-GitHub-Event: push' -H 'X-GitHub-Delivery: d-1'
assert_eq "unsigned push 401" 401 "$HTTP_CODE"
deliver github shop "$HOOKS/github-push.json" -H 'X-GitHub-Event: push' -H 'X-GitHub-Delivery: d-1' \
  -H "X-Hub-Signature-256: $(hmac "$HOOKS/github-push.json" "$SECRET")"
assert_eq "signature without sha256= 401" 401 "$HTTP_CODE"
deliver github nope "$HOOKS/github-push.json" -H 'X-GitHub-Event: push' \
  -H "X-Hub-Signature-256: sha256=$(hmac "$HOOKS/github-push.json" "$SECRET")"
assert_eq "unknown project 404" 404 "$HTTP_CODE"
deliver bitbucket shop "$HOOKS/github-push.json"
assert_eq "unknown host 404" 404 "$HTTP_CODE"
printf '{"ref": "refs/heads/main", "after": ' >"$T/broken.json"
github "$T/broken.json" push d-broken
assert_eq "unparsable payload 400" 400 "$HTTP_CODE"
printf '{"ref": "refs/pull/1/merge", "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}' >"$T/pull.json"
github "$T/pull.json" push d-pull
assert_eq "neither branch nor tag 400" 400 "$HTTP_CODE"
assert_eq "refused deliveries queue nothing" "$before" "$(jobs_count)"
assert_eq "refused deliveries record nothing" 0 "$(psql_q "SELECT count(*) FROM hook_deliveries")"
assert_contains "refusals are logged" "hook github/shop refused (401)" "$(cat "$T/server.log")"
github "$HOOKS/github-push.json" issues d-issue
assert_eq "other events 200" 200 "$HTTP_CODE"
assert_eq "other events ignored" true "$(jq -r .ignored <<<"$BODY")"

t0=$(date +%s%N)
github "$HOOKS/github-push.json" push d-main
t1=$(date +%s%N)
assert_eq "branch push 202" 202 "$HTTP_CODE"
assert_eq "one build queued" 1 "$(jq -r '.jobs | length' <<<"$BODY")"
MAINJOB=$(jq -r '.jobs[0]' <<<"$BODY")
log "delivery answered in $(((t1 - t0) / 1000000)) ms"
assert_eq "job kind" build "$(psql_q "SELECT kind FROM jobs WHERE id = $MAINJOB")"
assert_eq "job project" shop "$(psql_q "SELECT project FROM jobs WHERE id = $MAINJOB")"
assert_eq "job requester" hook:github "$(psql_q "SELECT requested_by FROM jobs WHERE id = $MAINJOB")"
SPEC=$(psql_q "SELECT spec FROM jobs WHERE id = $MAINJOB")
assert_eq "source is the project's url" "$URL" "$(jq -r .source.git.url <<<"$SPEC")"
assert_eq "source commit from the payload" 0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c "$(jq -r .source.git.commit <<<"$SPEC")"
assert_eq "rule import paths" ./cmd/api "$(jq -r '.importpaths | join(",")' <<<"$SPEC")"
assert_eq "defaults merged" registry.example.com/shop "$(jq -r .repo <<<"$SPEC")"
assert_eq "default platforms" linux/amd64,linux/arm64 "$(jq -r '.platforms | join(",")' <<<"$SPEC")"
assert_eq "tags: branch and short commit" main,0d1a26e "$(jq -r '.tags | join(",")' <<<"$SPEC")"
github "$HOOKS/github-push.json" push d-main
assert_eq "redelivery 200" 200 "$HTTP_CODE"
assert_eq "redelivery flagged" true "$(jq -r .redelivered <<<"$BODY")"
assert_eq "redelivery answers the first jobs" "$MAINJOB" "$(jq -r '.jobs | join(",")' <<<"$BODY")"
assert_eq "redelivery queues nothing" 1 "$(psql_q "SELECT count(*) FROM jobs WHERE project = 'shop'")"

github "$HOOKS/github-push-deleted.json" push d-deleted
assert_eq "deleted branch 200" 200 "$HTTP_CODE"
assert_eq "deleted branch queues nothing" 0 "$(jq -r '.jobs | length' <<<"$BODY")"
assert_eq "deleted flag" true "$(jq -r .deleted <<<"$BODY")"
jq '.ref = "refs/heads/feature-y"' "$HOOKS/github-push.json" >"$T/feature.json"
github "$T/feature.json" push d-feature
assert_eq "branch without a rule 200" 200 "$HTTP_CODE"
assert_eq "branch without a rule queues nothing" 0 "$(jq -r '.jobs | length' <<<"$BODY")"

github "$(tagged v1.9.0)" push d-v190
assert_eq "tag push 202" 202 "$HTTP_CODE"
V190=$(jq -r '.jobs[0]' <<<"$BODY")
assert_eq "tag rule queues a resolve" resolve "$(psql_q "SELECT kind FROM jobs WHERE id = $V190")"
RSPEC=$(psql_q "SELECT spec FROM jobs WHERE id = $V190")
assert_eq "resolve files" config/ "$(jq -r '.files | join(",")' <<<"$RSPEC")"
assert_eq "resolve commit is head_commit (annotated tag)" 0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c \
  "$(jq -r .source.git.commit <<<"$RSPEC")"
assert_eq "resolve strict by default" true "$(jq -r .strict <<<"$RSPEC")"
assert_eq "resolve has no importpaths" null "$(jq -r .importpaths <<<"$RSPEC")"
assert_eq "resolve tags: the git tag and short commit" v1.9.0,0d1a26e "$(jq -r '.tags | join(",")' <<<"$RSPEC")"
assert_eq "a release row per tag resolve" "v1.9.0 $V190" "$(psql_q "SELECT tag || ' ' || job_id FROM releases")"
jq '.ref = "refs/tags/nightly"' "$HOOKS/github-push-tag.json" >"$T/nightly.json"
github "$T/nightly.json" push d-nightly
assert_eq "tag outside the glob queues nothing" 0 "$(jq -r '.jobs | length' <<<"$BODY")"

# ---------------------------------------------------------------- webhooks: GitLab and Gitea

# "other" holds the GitLab token as its secret; point its rules at master.
json PATCH /v1/projects/other '{"rules": [{"on": "push", "branches": ["master"], "build": {"importpaths": ["."]}},
  {"on": "tag", "tags": ["v*"], "resolve": {"yaml": "apiVersion: v1\nkind: List\n"}}]}'
assert_eq "patch other's rules" 200 "$HTTP_CODE"
deliver gitlab other "$HOOKS/gitlab-push.json" -H 'X-Gitlab-Event: Push Hook'
assert_eq "gitlab without a token 401" 401 "$HTTP_CODE"
deliver gitlab other "$HOOKS/gitlab-push.json" -H 'X-Gitlab-Event: Push Hook' -H 'X-Gitlab-Token: gl-tokeN'
assert_eq "gitlab wrong token 401" 401 "$HTTP_CODE"
deliver gitlab other "$HOOKS/gitlab-push.json" -H 'X-Gitlab-Event: Push Hook' -H 'X-Gitlab-Token: gl-token' \
  -H 'Idempotency-Key: gl-1'
assert_eq "gitlab push 202" 202 "$HTTP_CODE"
assert_eq "gitlab commit (checkout_sha)" da1560886d4f094c3e6c9ef40349f7d38b5d27d7 "$(jq -r .commit <<<"$BODY")"
deliver gitlab other "$HOOKS/gitlab-push.json" -H 'X-Gitlab-Event: Push Hook' -H 'X-Gitlab-Token: gl-token' \
  -H 'Idempotency-Key: gl-1'
assert_eq "gitlab retry (same Idempotency-Key) queues nothing" true "$(jq -r .redelivered <<<"$BODY")"
deliver gitlab other "$HOOKS/gitlab-tag-push.json" -H 'X-Gitlab-Event: Tag Push Hook' -H 'X-Gitlab-Token: gl-token' \
  -H 'X-Gitlab-Event-UUID: gl-2'
assert_eq "gitlab tag push 202" 202 "$HTTP_CODE"
assert_eq "gitlab tag resolve" resolve "$(psql_q "SELECT kind FROM jobs WHERE id = $(jq -r '.jobs[0]' <<<"$BODY")")"
assert_eq "gitlab tag release" v1.10.0 "$(psql_q "SELECT tag FROM releases WHERE project = 'other'")"

json PATCH /v1/projects/other '{"rules": [{"on": "push", "branches": ["develop"], "build": {"importpaths": ["."]}}], "webhook_secret": "gitea-secret"}'
deliver gitea other "$HOOKS/gitea-push.json" -H 'X-Gitea-Event: push' -H 'X-Gitea-Delivery: ge-1' \
  -H "X-Gitea-Signature: $(hmac "$HOOKS/gitea-push.json" gl-token)"
assert_eq "gitea with the old secret 401" 401 "$HTTP_CODE"
deliver gitea other "$HOOKS/gitea-push.json" -H 'X-Gitea-Event: push' -H 'X-Gitea-Delivery: ge-1'
assert_eq "gitea unsigned 401" 401 "$HTTP_CODE"
deliver gitea other "$HOOKS/gitea-push.json" -H 'X-Gitea-Event: push' -H 'X-Gitea-Delivery: ge-1' \
  -H "X-Gitea-Signature: $(hmac "$HOOKS/gitea-push.json" gitea-secret)"
assert_eq "gitea push 202" 202 "$HTTP_CODE"
GITEAJOB=$(jq -r '.jobs[0]' <<<"$BODY")
deliver gitea other "$HOOKS/gitea-push.json" -H 'X-Gitea-Event: push' -H 'X-Gitea-Delivery: ge-1' \
  -H "X-Gitea-Signature: $(hmac "$HOOKS/gitea-push.json" gitea-secret)"
assert_eq "gitea redelivery" "true $GITEAJOB" "$(jq -r '"\(.redelivered) \(.jobs | join(","))"' <<<"$BODY")"
deliver forgejo other "$HOOKS/gitea-push.json" -H 'X-Forgejo-Event: push' -H 'X-Forgejo-Delivery: fj-1' \
  -H "X-Forgejo-Signature: $(hmac "$HOOKS/gitea-push.json" gitea-secret)"
assert_eq "forgejo push 202" 202 "$HTTP_CODE"
api GET /v1/hooks/github/shop
assert_eq "GET on a hook 405" 405 "$HTTP_CODE"

# ---------------------------------------------------------------- releases

# fake_release TAG CONTENT: the newest job of TAG succeeds with a release.yaml.
fake_release() {
  local id sha
  id=$(psql_q "SELECT job_id FROM releases WHERE project = 'shop' AND tag = '$1' ORDER BY id DESC LIMIT 1")
  sha=$(printf '%s' "$2" | sha256sum | cut -d' ' -f1)
  psql_q "UPDATE jobs SET state = 'succeeded', started_at = now(), finished_at = now(),
          result = '{\"release\": {\"name\": \"release.yaml\", \"sha256\": \"$sha\"}}' WHERE id = $id;
          INSERT INTO job_artifacts (job_id, name, media_type, sha256, content)
          VALUES ($id, 'release.yaml', 'application/yaml', '$sha', convert_to(\$y\$$2\$y\$, 'UTF8'))" >/dev/null
}
github "$(tagged v1.10.0)" push d-v1100
github "$(tagged v1.2.0)" push d-v120
github "$(tagged v2.0.0-rc.1)" push d-v200rc
github "$(tagged v3.0.0)" push d-v300
fake_release v1.9.0 'kind: v1.9.0'
fake_release v1.10.0 'kind: v1.10.0'
fake_release v1.2.0 'kind: v1.2.0'
fake_release v2.0.0-rc.1 'kind: v2.0.0-rc.1'
# v3.0.0 stays queued: not a release yet.

as "" GET /v1/projects/shop/releases
assert_eq "releases without a token 401" 401 "$HTTP_CODE"
as "$OTHER" GET /v1/projects/shop/releases
assert_eq "releases of another project 403" 403 "$HTTP_CODE"
as "$READER" GET /v1/projects/shop/releases
assert_eq "releases 200" 200 "$HTTP_CODE"
assert_eq "releases newest first" "v3.0.0 v2.0.0-rc.1 v1.2.0 v1.10.0 v1.9.0" "$(jq -r '[.items[].tag] | join(" ")' <<<"$BODY")"
assert_eq "queued release has no sha yet" "queued null" "$(jq -r '.items[0] | "\(.state) \(.sha256)"' <<<"$BODY")"
as "$READER" GET /v1/projects/shop/releases/latest/release.yaml -D "$T/h"
assert_eq "latest 200" 200 "$HTTP_CODE"
assert_eq "latest is v2.0.0-rc.1 (semver, succeeded only)" "kind: v2.0.0-rc.1" "$BODY"
psql_q "UPDATE jobs SET state = 'failed' WHERE id = (SELECT job_id FROM releases WHERE tag = 'v2.0.0-rc.1')" >/dev/null
as "$READER" GET /v1/projects/shop/releases/latest/release.yaml -D "$T/h"
assert_eq "latest: v1.10.0 after v1.9.0 and v1.2.0" "kind: v1.10.0" "$BODY"
ETAG=$(tr -d '\r' <"$T/h" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
assert_eq "strong ETag is the artifact's sha256" "\"$(printf 'kind: v1.10.0' | sha256sum | cut -d' ' -f1)\"" "$ETAG"
assert_contains "served as YAML" "application/yaml" "$(cat "$T/h")"
as "$READER" GET /v1/projects/shop/releases/latest/release.yaml -H "If-None-Match: $ETAG"
assert_eq "If-None-Match 304" 304 "$HTTP_CODE"
assert_eq "304 has no body" "" "$BODY"
as "$READER" GET /v1/projects/shop/releases/v1.9.0/release.yaml -H "If-None-Match: $ETAG"
assert_eq "other tag, other ETag: 200" "200 kind: v1.9.0" "$HTTP_CODE $BODY"
as "$READER" GET /v1/projects/shop/releases/v3.0.0/release.yaml
assert_eq "unfinished release 404" 404 "$HTTP_CODE"
as "$READER" GET /v1/projects/shop/releases/v9.9.9/release.yaml
assert_eq "unknown tag 404" 404 "$HTTP_CODE"
as "" GET /v1/projects/shop/releases/latest/release.yaml
assert_eq "release.yaml without a token 401" 401 "$HTTP_CODE"
as "$OTHER" GET /v1/projects/shop/releases/latest/release.yaml
assert_eq "release.yaml of another project 403" 403 "$HTTP_CODE"
as "$SHOPBUILD" GET /v1/projects/shop/releases/latest/release.yaml
assert_eq "release.yaml with the project's token" 200 "$HTTP_CODE"

as "$READER" GET "/v1/projects/shop/builds?ref=main"
assert_eq "builds by ref 200" 200 "$HTTP_CODE"
assert_eq "builds of main" "$MAINJOB" "$(jq -r '[.items[].id] | join(",")' <<<"$BODY")"
as "$READER" GET "/v1/projects/shop/builds?ref=v1.9.0"
assert_eq "builds of a tag" "$V190" "$(jq -r '[.items[].id] | join(",")' <<<"$BODY")"
as "$READER" GET "/v1/projects/shop/builds?limit=2"
assert_eq "builds limit" 2 "$(jq -r '.items | length' <<<"$BODY")"
as "$READER" GET "/v1/projects/shop/builds?limit=0"
assert_eq "builds bad limit 400" 400 "$HTTP_CODE"
as "$READER" GET "/v1/projects/shop/builds?color=red"
assert_eq "builds unknown parameter 400" 400 "$HTTP_CODE"
as "" GET "/v1/projects/shop/builds"
assert_eq "builds without a token 401" 401 "$HTTP_CODE"
as "$OTHER" GET "/v1/projects/shop/builds"
assert_eq "builds of another project 403" 403 "$HTTP_CODE"

# ---------------------------------------------------------------- project-limited tokens on jobs

GOOD='{"source":{"git":{"url":"https://example.com/r.git","ref":"main"}},"importpaths":["./cmd/app"]}'
TOKEN=$SHOPBUILD json POST /v1/builds "$GOOD"
assert_eq "limited token submits" 202 "$HTTP_CODE"
LIMITED=$(jq -r .id <<<"$BODY")
assert_eq "into its project" shop "$(jq -r .project <<<"$BODY")"
TOKEN=$SHOPBUILD json POST /v1/builds "$(jq -c '.project = "other"' <<<"$GOOD")"
assert_eq "limited token into another project 403" 403 "$HTTP_CODE"
as "$SHOPBUILD" GET "/v1/builds/$GITEAJOB"
assert_eq "limited token cannot read another project's job" 404 "$HTTP_CODE"
as "$SHOPBUILD" GET "/v1/builds/$GITEAJOB/log"
assert_eq "nor its log" 404 "$HTTP_CODE"
as "$SHOPBUILD" POST "/v1/builds/$GITEAJOB/cancel"
assert_eq "nor cancel it" 404 "$HTTP_CODE"
assert_eq "still queued" queued "$(psql_q "SELECT state FROM jobs WHERE id = $GITEAJOB")"
as "$SHOPBUILD" GET "/v1/builds/$MAINJOB"
assert_eq "reads its project's job" 200 "$HTTP_CODE"
as "$SHOPBUILD" GET "/v1/builds?limit=200"
assert_eq "lists only its project" shop "$(jq -r '[.items[].project] | unique | join(",")' <<<"$BODY")"
as "$SHOPBUILD" GET "/v1/builds?project=other"
assert_eq "listing another project 403" 403 "$HTTP_CODE"
as "$SHOPBUILD" POST "/v1/builds/$LIMITED/cancel"
assert_eq "cancels its own" 200 "$HTTP_CODE"
as "$SHOPBUILD" POST "/v1/builds/$LIMITED/retry"
assert_eq "retries its own" 202 "$HTTP_CODE"

# ---------------------------------------------------------------- audit

as "" GET /v1/audit
assert_eq "audit without a token 401" 401 "$HTTP_CODE"
as "$READER" GET /v1/audit
assert_eq "audit with a read token 403" 403 "$HTTP_CODE"
as "$WRITER" GET /v1/audit
assert_eq "audit with a build token 403" 403 "$HTTP_CODE"
as "$SHOPADMIN" GET /v1/audit
assert_eq "audit with a project-limited admin 403" 403 "$HTTP_CODE"
as "$ADMIN" GET "/v1/audit?limit=200"
assert_eq "audit 200" 200 "$HTTP_CODE"
AUDIT=$BODY
has_audit() { jq -e --arg a "$1" --arg t "$2" --arg who "$3" \
  '[.items[] | select(.action == $a and .target == $t and .actor == $who)] | length > 0' <<<"$AUDIT" >/dev/null; }
has_audit project.create project:shop admin; assert_eq "audit: project created by admin" 0 $?
has_audit project.update project:shop shopadmin; assert_eq "audit: project changed by shopadmin" 0 $?
has_audit project.delete project:tmp admin; assert_eq "audit: project deleted" 0 $?
has_audit job.create "job:$MAINJOB" hook:github; assert_eq "audit: the delivery that queued a job" 0 $?
assert_eq "audit names the delivery" d-main \
  "$(jq -r --arg t "job:$MAINJOB" '.items[] | select(.target == $t) | .detail.delivery' <<<"$AUDIT")"
has_audit job.create "job:$LIMITED" shopbuild; assert_eq "audit: job created by token" 0 $?
has_audit job.cancel "job:$LIMITED" shopbuild; assert_eq "audit: job cancelled" 0 $?
has_audit job.retry "job:$LIMITED" shopbuild; assert_eq "audit: job retried" 0 $?
as "$ADMIN" GET "/v1/audit?limit=2"
NEXT=$(jq -r .next_before <<<"$BODY")
as "$ADMIN" GET "/v1/audit?limit=2&before=$NEXT"
assert_eq "audit pages" 2 "$(jq -r '.items | length' <<<"$BODY")"
assert_eq "audit pages go back" true "$(jq -r --argjson n "$NEXT" '.items[0].id < $n' <<<"$BODY")"
as "$ADMIN" GET "/v1/audit?limit=9999"
assert_eq "audit bad limit 400" 400 "$HTTP_CODE"
as "$ADMIN" POST /v1/audit
assert_eq "audit POST 405" 405 "$HTTP_CODE"

# ---------------------------------------------------------------- rate limits

kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null
start_server KOFARM_ACCESS_LOG=0 KOFARM_RATE_LIMIT=0.5,3
codes=
for i in 1 2 3 4; do as "$READER" GET /v1/projects -D "$T/rl"; codes="$codes $HTTP_CODE"; done
assert_eq "burst of 3, then 429" " 200 200 200 429" "$codes"
assert_eq "429 is JSON" rate_limited "$(err_code)"
assert_match "Retry-After given" '^[Rr]etry-[Aa]fter: [1-9]' "$(tr -d '\r' <"$T/rl" | grep -i '^retry-after')"
as "$ADMIN" GET /v1/projects
assert_eq "the address is limited too (another token)" 429 "$HTTP_CODE"
api GET /healthz
assert_eq "probes are never limited" 200 "$HTTP_CODE"
"$KOFARM_SERVER" --help | grep -q KOFARM_RATE_LIMIT
assert_eq "--help documents KOFARM_RATE_LIMIT" 0 $?
KOFARM_RATE_LIMIT=fast "$KOFARM_SERVER" migrate >/dev/null 2>&1
assert_eq "bad KOFARM_RATE_LIMIT refused" 2 $?
kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null

# ---------------------------------------------------------------- fairness (a real worker)

# Jobs that fail at once (a missing local repository): a worker drains them
# fast, one slot, so the claim order is the start order.
psql_q "UPDATE jobs SET state = 'canceled', finished_at = now() WHERE state IN ('queued', 'running')" >/dev/null
FAST=$(jq -cn '{source: {git: {url: "file:///nonexistent/repo.git", ref: "main", commit: null}},
  importpaths: ["./cmd/app"], platforms: ["linux/amd64"], repo: null, naming: "base", tags: ["latest"],
  base_image: null, labels: {}, annotations: {}, env: [], ldflags: [], user: null, no_cache: true}')
psql_q "INSERT INTO jobs (kind, spec, project, max_attempts, created_at, run_after)
        SELECT 'build', \$s\$$FAST\$s\$, 'fair-a', 1, now() - interval '1 minute', now() - interval '1 minute' + n * interval '1 ms'
        FROM generate_series(1, 50) n" >/dev/null
psql_q "INSERT INTO jobs (kind, spec, project, max_attempts) SELECT 'build', \$s\$$FAST\$s\$, 'fair-b', 1
        FROM generate_series(1, 2)" >/dev/null
start_worker KOFARM_REPO=127.0.0.1:9/x KOFARM_DEFAULT_BASE_IMAGE=scratch KOFARM_ALLOW_FILE_URLS=1 KOFARM_CONCURRENCY=1
for i in $(seq 1 600); do
  [ "$(psql_q "SELECT count(*) FROM jobs WHERE project IN ('fair-a', 'fair-b') AND state = 'queued'")" = 0 ] && break
  sleep 0.1
done
assert_eq "the worker drained both queues" 0 "$(psql_q "SELECT count(*) FROM jobs WHERE project IN ('fair-a', 'fair-b') AND state = 'queued'")"
assert_eq "A's jobs did run (failed fast)" 50 "$(psql_q "SELECT count(*) FROM jobs WHERE project = 'fair-a' AND attempts = 1")"
LAST_A=$(psql_q "SELECT max(started_at) FROM jobs WHERE project = 'fair-a'")
assert_eq "both of B's jobs started before A's queue drained" 2 \
  "$(psql_q "SELECT count(*) FROM jobs WHERE project = 'fair-b' AND started_at < '$LAST_A'")"
B_RANK=$(psql_q "SELECT max(r) FROM (SELECT project, rank() OVER (ORDER BY started_at, id) r FROM jobs
                 WHERE project IN ('fair-a', 'fair-b')) x WHERE project = 'fair-b'")
assert_match "B's jobs started among the first few" '^[1-5]$' "$B_RANK"

# max_concurrency: a project at its limit is skipped while another is claimable.
kill "${WORKER_PIDS[0]}" 2>/dev/null; wait "${WORKER_PIDS[0]}" 2>/dev/null
psql_q "INSERT INTO projects (name, git_url, max_concurrency) VALUES ('capped', 'https://x/y.git', 1)" >/dev/null
psql_q "INSERT INTO jobs (kind, spec, project, state, lease_owner, lease_expires_at, attempts)
        VALUES ('build', '{}', 'capped', 'running', 'test', now() + interval '1 hour', 1)" >/dev/null
C2=$(psql_q "INSERT INTO jobs (kind, spec, project) VALUES ('build', '{}', 'capped') RETURNING id")
start_worker KOFARM_REPO=127.0.0.1:9/x KOFARM_DEFAULT_BASE_IMAGE=scratch KOFARM_CONCURRENCY=1
D1=$(psql_q "INSERT INTO jobs (kind, spec, project, max_attempts) VALUES ('build', \$s\$$FAST\$s\$, 'free', 1) RETURNING id")
for i in $(seq 1 200); do
  [ "$(psql_q "SELECT state FROM jobs WHERE id = $D1")" = failed ] && break
  sleep 0.05
done
assert_eq "another project's job runs" failed "$(psql_q "SELECT state FROM jobs WHERE id = $D1")"
sleep 1 # the idle worker polls and is woken by every insert: it had its chances
assert_eq "the capped project's second job waits" queued "$(psql_q "SELECT state FROM jobs WHERE id = $C2")"
psql_q "UPDATE jobs SET state = 'succeeded', finished_at = now(), lease_expires_at = NULL
        WHERE project = 'capped' AND state = 'running'" >/dev/null
D2=$(psql_q "INSERT INTO jobs (kind, spec, project, max_attempts) VALUES ('build', \$s\$$FAST\$s\$, 'free', 1) RETURNING id")
for i in $(seq 1 200); do
  [ "$(psql_q "SELECT state FROM jobs WHERE id = $C2")" != queued ] && break
  sleep 0.05
done
assert_ne "below its limit again, it runs" queued "$(psql_q "SELECT state FROM jobs WHERE id = $C2")"

finish
