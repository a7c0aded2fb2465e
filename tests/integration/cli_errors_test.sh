#!/usr/bin/env bash
# Bad input through the CLI: each fails with exit 1, nothing on stdout, and a
# "kofarm: " message that says what is wrong (missing or non-main package,
# the compiler's own message, unknown platforms, an unreachable registry,
# kodata symlinks leaving the source tree, missing KO_DOCKER_REPO, a base
# image gone from the registry while the build runs).
. "$(dirname "$0")/lib.sh"
need_kofarm

SHA='sha256:[0-9a-f]{64}'
GREETING=$'hello from kofarm\nhi from kodata'

start_registry
R=$REGISTRY
export KO_DOCKER_REPO=$R/e KO_DEFAULTBASEIMAGE=scratch

# ---- packages
kf_in "$FIXTURE" build ./cmd/nope
assert_kf_fails "missing package" 1 'cmd/nope'
kf_in "$FIXTURE" build example.com/hello/cmd/missing
assert_kf_fails "missing package by import path" 1 'example.com/hello/cmd/missing'
kf_in "$FIXTURE" build ./pkg/lib
assert_kf_fails "non-main package" 1 'example.com/hello/pkg/lib.*not a main package|not a main package.*example.com/hello/pkg/lib'
kf_in "$FIXTURE" build .
assert_kf_fails "module root without Go files" 1 '[Nn]o Go files'
kf_in "$FIXTURE" build ./cmd/app ./pkg/lib
assert_kf_fails "one bad package fails the whole build" 1 'pkg/lib'
kf_in "$FIXTURE" build ./cmd/broken
assert_kf_fails "syntax error" 1 'main\.go:7:[0-9]+: syntax error'
assert_contains "the compiler's message reaches the user" "cmd/broken/main.go:7" "$KF_ERR"
kf_in "$T" build ./cmd/app
assert_kf_fails "outside any module" 1 'go\.mod|module'

# ---- platforms
kf_in "$FIXTURE" build --platform=linux/nonesuch ./cmd/app
assert_kf_fails "unknown architecture" 1 'linux/nonesuch'
kf_in "$FIXTURE" build --platform=plan9 ./cmd/app
assert_kf_fails "platform without an architecture" 1 'plan9'
make_base "$R/base/two:latest" linux/amd64,linux/arm64
KO_DEFAULTBASEIMAGE=$R/base/two:latest kf_in "$FIXTURE" build --platform=linux/s390x ./cmd/app
assert_kf_fails "platform the base does not offer" 1 'linux/s390x'
# The base's index lists an image the registry no longer has: its manifest
# is fetched while go builds, and that failure is the build's.
make_base "$R/base/gone:latest" linux/amd64,linux/arm64
GONE=$(skopeo inspect --raw --tls-verify=false "docker://$R/base/gone:latest" |
  jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest')
[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://$R/v2/base/gone/manifests/$GONE")" = 202 ] ||
  fail "deleting the base's arm64 manifest"
KO_DEFAULTBASEIMAGE=$R/base/gone:latest kf_in "$FIXTURE" build --platform=linux/arm64 ./cmd/app
assert_kf_fails "a base image gone from the registry" 1 "base/gone.*${GONE#sha256:}|${GONE#sha256:}.*base/gone"
KO_DEFAULTBASEIMAGE=$R/base/gone:latest kf_in "$FIXTURE" build --platform=linux/amd64 ./cmd/app
assert_kf_ok "the base's other platform still builds"
KO_DEFAULTBASEIMAGE=$R/base/two:latest kf_in "$FIXTURE" build --platform=linux/arm/v7 ./cmd/app
assert_kf_fails "variant the base does not offer" 1 'linux/arm/v7'
KO_DEFAULTBASEIMAGE=$R/base/missing:latest kf_in "$FIXTURE" build ./cmd/app
assert_kf_fails "base image that does not exist" 1 "$R/base/missing"
kf base create --platform linux/amd64 --layer "$T/no-such.tar" "$R/base/x:latest"
assert_kf_fails "base create with a missing layer file" 1 'no-such\.tar'
kf base create --platform linux/amd64 "$R/base/x:latest"
assert_eq "base create without --layer: usage error" "2" "$KF_RC"

# ---- registries
closed=$(free_port)
kf_in "$FIXTURE" build --repo "127.0.0.1:$closed/x" --insecure-registry ./cmd/app
assert_kf_fails "unreachable registry (closed port)" 1 "127\.0\.0\.1:$closed"
KO_DEFAULTBASEIMAGE="127.0.0.1:$closed/base:latest" kf_in "$FIXTURE" build --insecure-registry ./cmd/app
assert_kf_fails "unreachable base registry" 1 "127\.0\.0\.1:$closed"
unset KO_DOCKER_REPO
kf_in "$FIXTURE" build ./cmd/app
export KO_DOCKER_REPO=$R/e
assert_kf_fails "no KO_DOCKER_REPO and no --repo" 1 'KO_DOCKER_REPO'
kf_in "$FIXTURE" build --repo 'Bad Repo!' ./cmd/app
assert_kf_fails "invalid repository name" 1 'Bad Repo!'

# ---- kodata symlinks: followed inside the source tree, refused outside it
K=$T/kmod
copy_fixture "$K"
git -C "$K" init -q
mkdir -p "$T/outside"
echo "host secret" >"$T/outside/secret.txt"
ln -s ../../../go.mod "$K/cmd/app/kodata/gomod"
ln -s ../../server/kodata "$K/cmd/app/kodata/serverdata"
kf_in "$K" build -B --repo "$R/links" ./cmd/app
assert_kf_ok "symlinks inside the git worktree are followed"
pull_rootfs "$KF_OUT" linux/amd64 "$T/links"
assert_eq "file link copied as a regular file" "-r-xr-xr-x $(stat -c %s "$K/go.mod") var/run/ko/gomod" \
  "$(layer_listing "$T/links" -2 | awk '$6 == "var/run/ko/gomod" {print $1, $3, $6}')"
assert_eq "directory link walked as a directory" "dr-xr-xr-x var/run/ko/serverdata|-r-xr-xr-x var/run/ko/serverdata/greeting.txt" \
  "$(layer_listing "$T/links" -2 | awk '$6 ~ /^var\/run\/ko\/serverdata/ {print $1, $6}' | paste -sd'|')"
assert_eq "linked content" "$(cat "$K/go.mod")" "$(cat "$T/links/rootfs/var/run/ko/gomod")"

ln -s "$T/outside/secret.txt" "$K/cmd/app/kodata/leak"
kf_in "$K" build -B --repo "$R/links" ./cmd/app
assert_kf_fails "absolute symlink out of the tree refused" 1 'leak'
assert_contains "... saying it is outside" "outside" "$KF_ERR"
rm "$K/cmd/app/kodata/leak"
ln -s ../../../../outside "$K/cmd/app/kodata/leakdir"
kf_in "$K" build -B --repo "$R/links" ./cmd/app
assert_kf_fails "relative directory symlink out of the tree refused" 1 'leakdir'
rm "$K/cmd/app/kodata/leakdir"
ln -s /etc/passwd "$K/cmd/app/kodata/passwd"
kf_in "$K" build -B --repo "$R/links" ./cmd/app
assert_kf_fails "link to /etc/passwd refused" 1 'passwd'
rm "$K/cmd/app/kodata/passwd"
ln -s nowhere "$K/cmd/app/kodata/dangling"
kf_in "$K" build -B --repo "$R/links" ./cmd/app
assert_kf_fails "dangling symlink" 1 'dangling'
rm "$K/cmd/app/kodata/dangling"
# Without a git worktree the allowed root is kodata itself (as ko).
rm -rf "$K/.git"
kf_in "$K" build -B --repo "$R/links" ./cmd/app
assert_kf_fails "no git worktree: a link out of kodata is refused" 1 'gomod|serverdata'
KO_DATA_PATH_ALLOWED_ROOT=$K kf_in "$K" build -B --repo "$R/links" ./cmd/app
assert_kf_ok "KO_DATA_PATH_ALLOWED_ROOT widens the root"

# ---- local outputs that cannot be written
kf_in "$FIXTURE" build --push=false --tarball /nonexistent-dir/x.tar ./cmd/app
assert_kf_fails "tarball in a missing directory" 1 'nonexistent-dir'

finish
