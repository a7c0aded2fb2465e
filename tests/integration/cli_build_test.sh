#!/usr/bin/env bash
# kofarm build against a real docker-registry, checked with skopeo, tar,
# chroot and qemu: the image runs and finds its kodata, layout and config as
# ko writes them, multi-platform indexes, reproducible digests, naming, tags,
# local outputs (OCI layout, tarball), --image-refs, labels/annotations/user,
# SOURCE_DATE_EPOCH and KO_DATA_DATE_EPOCH.
. "$(dirname "$0")/lib.sh"
need_kofarm

APP=example.com/hello/cmd/app
APP_MD5=$(md5_of "$APP")
GREETING=$'hello from kofarm\nhi from kodata'
SHA='sha256:[0-9a-f]{64}'
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
OCI_INDEX=application/vnd.oci.image.index.v1+json

start_registry
R=$REGISTRY

# ---- the seeded base: three platforms, one rootfs layer, user 65532
make_base "$R/base/seed:latest" linux/amd64,linux/arm64,linux/arm/v7 --user 65532 \
  --env PATH=/usr/local/bin:/usr/bin:/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
assert_match "base create prints REF@digest" "^$R/base/seed:latest@$SHA\$" "$BASE_OUT"
BASE=$R/base/seed:latest
base_raw=$(verify_image "$BASE")
assert_eq "base is an OCI index" "$OCI_INDEX" "$(jq -r .mediaType <<<"$base_raw")"
assert_eq "base platforms" "linux/amd64 linux/arm64 linux/arm/v7" \
  "$(jq -r '[.manifests[].platform | [.os, .architecture, .variant // empty] | join("/")] | join(" ")' <<<"$base_raw")"
assert_eq "base digest printed = digest of served bytes" "${BASE_OUT#*@}" "$(raw_digest "$BASE")"
BASE_AMD64_DIGEST=$(jq -r '.manifests[] | select(.platform.architecture == "amd64") | .digest' <<<"$base_raw")

export KO_DEFAULTBASEIMAGE=$BASE

# ---- default build: one platform (the host's) of a 3-platform base -> one image
export KO_DOCKER_REPO=$R/t
kf_in "$FIXTURE" build ./cmd/app
assert_kf_ok "build ./cmd/app"
assert_match "prints REPO/app-md5@digest" "^$R/t/app-$APP_MD5@$SHA\$" "$KF_OUT"
REF=$KF_OUT
assert_eq "printed digest = digest of the pushed bytes" "${REF#*@}" "$(raw_digest "$REF")"
assert_eq "tag latest points at it" "${REF#*@}" "$(raw_digest "${REF%@*}:latest")"
raw=$(verify_image "$REF")
assert_eq "one platform matched: a single OCI manifest" "$OCI_MANIFEST" "$(jq -r .mediaType <<<"$raw")"
assert_eq "base.name annotation" "$BASE" "$(jq -r '.annotations["org.opencontainers.image.base.name"]' <<<"$raw")"
assert_eq "base.digest annotation = the amd64 base manifest" "$BASE_AMD64_DIGEST" \
  "$(jq -r '.annotations["org.opencontainers.image.base.digest"]' <<<"$raw")"
assert_eq "layers: base + kodata + binary" "3" "$(jq '.layers | length' <<<"$raw")"
assert_eq "layer media types follow the OCI base" \
  "application/vnd.oci.image.layer.v1.tar+gzip application/vnd.oci.image.layer.v1.tar+gzip" \
  "$(jq -r '[.layers[1:][].mediaType] | join(" ")' <<<"$raw")"

run_image "$REF" linux/amd64
assert_eq "image runs (chroot) and reads its kodata" "0:$GREETING" "$RUN_RC:$RUN_OUT"
cfg=$RUN_DIR/config.json
assert_eq "entrypoint" '["/ko-app/app"]' "$(jq -c .config.Entrypoint "$cfg")"
assert_eq "no Cmd" "null" "$(jq -c .config.Cmd "$cfg")"
assert_eq "env: PATH gains /ko-app, KO_DATA_PATH appended" \
  '["PATH=/usr/local/bin:/usr/bin:/bin:/ko-app","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt","KO_DATA_PATH=/var/run/ko"]' \
  "$(jq -c .config.Env "$cfg")"
assert_eq "user kept from the base" "65532" "$(jq -r .config.User "$cfg")"
assert_eq "config platform" "linux/amd64" "$(jq -r '.os + "/" + .architecture' "$cfg")"
assert_eq "history comments" \
  "kodata contents, at \$KO_DATA_PATH|go build output, at /ko-app/app" \
  "$(jq -r '[.history[-2:][].comment] | join("|")' "$cfg")"
assert_eq "history created_by" "ko build ko://$APP|ko build ko://$APP" \
  "$(jq -r '[.history[-2:][].created_by] | join("|")' "$cfg")"
assert_eq "3 diff_ids" "3" "$(jq '.rootfs.diff_ids | length' "$cfg")"
assert_eq "diff_id of the binary layer = sha256 of its tar" \
  "$(jq -r '.rootfs.diff_ids[2]' "$cfg")" "sha256:$(gzip -dc "$(layer_file "$RUN_DIR" 2)" | sha256sum | cut -d' ' -f1)"
assert_eq "diff_id of the kodata layer = sha256 of its tar" \
  "$(jq -r '.rootfs.diff_ids[1]' "$cfg")" "sha256:$(gzip -dc "$(layer_file "$RUN_DIR" 1)" | sha256sum | cut -d' ' -f1)"
assert_eq "kodata layer entries, modes, owners, mtime 0, lexical order" \
"dr-xr-xr-x 0/0 0 1970-01-01 00:00:00 var
dr-xr-xr-x 0/0 0 1970-01-01 00:00:00 var/run
dr-xr-xr-x 0/0 0 1970-01-01 00:00:00 var/run/ko
-r-xr-xr-x 0/0 15 1970-01-01 00:00:00 var/run/ko/greeting.txt
dr-xr-xr-x 0/0 0 1970-01-01 00:00:00 var/run/ko/sub
-r-xr-xr-x 0/0 19 1970-01-01 00:00:00 var/run/ko/sub/nested.txt" \
  "$(layer_listing "$RUN_DIR" 1)"
bin_size=$(stat -c %s "$RUN_DIR/rootfs/ko-app/app")
assert_eq "binary layer entries" \
"dr-xr-xr-x 0/0 0 1970-01-01 00:00:00 ko-app
-r-xr-xr-x 0/0 $bin_size 1970-01-01 00:00:00 ko-app/app" \
  "$(layer_listing "$RUN_DIR" 2)"
assert_eq "base content is there (CA bundle from the seeded base)" \
  "$(sha256sum </etc/ssl/certs/ca-certificates.crt)" "$(sha256sum <"$RUN_DIR/rootfs/etc/ssl/certs/ca-certificates.crt")"
gzip_hdr=$(od -An -tx1 -N10 "$(layer_file "$RUN_DIR" 2)" | tr -d ' \n')
assert_eq "gzip header: no name flag, mtime 0" "1f8b0800000000000" "${gzip_hdr:0:17}"

# ---- import path forms give the same image and name
for form in "$APP" "ko://$APP" "./cmd/app/"; do
  kf_in "$FIXTURE" build "$form"
  assert_eq "import path form '$form' -> same reference" "$REF" "$KF_OUT"
done
kf_in "$FIXTURE/cmd/app" build .
assert_eq "'.' inside cmd/app -> same reference" "$REF" "$KF_OUT"

# ---- two import paths: two lines, in argument order
kf_in "$FIXTURE" build ./cmd/server ./cmd/app
assert_kf_ok "build two packages"
assert_match "two references, in order" \
  "^$R/t/server-$(md5_of example.com/hello/cmd/server)@$SHA"$'\n'"$R/t/app-$APP_MD5@$SHA\$" "$KF_OUT"
assert_eq "second line is the same app image" "$REF" "$(sed -n 2p <<<"$KF_OUT")"

# ---- reproducibility: twice (fresh layer cache), and from copies at other paths
KOFARM_CACHE_DIR=$T/cache2 kf_in "$FIXTURE" build ./cmd/app
assert_eq "second build, empty layer cache: same digest" "$REF" "$KF_OUT"
# go build stamps VCS facts (revision, time, modified) into the binary, as
# under ko: checkouts are the same source only at the same commit, or both
# outside any repository.
copy_fixture "$T/elsewhere/one/hello"
copy_fixture "$T/x/hello-copy-with-a-longer-path"
KOFARM_CACHE_DIR=$T/cache3 kf_in "$T/elsewhere/one/hello" build ./cmd/app
assert_kf_ok "build of a copy outside git"
COPY_REF=$KF_OUT
KOFARM_CACHE_DIR=$T/cache4 kf_in "$T/x/hello-copy-with-a-longer-path" build ./cmd/app
assert_eq "copy at another path: same digest" "$COPY_REF" "$KF_OUT"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
export GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z
copy_fixture "$T/git/origin"
git -C "$T/git/origin" init -q && git -C "$T/git/origin" add -A && git -C "$T/git/origin" commit -q -m fixture
git clone -q "$T/git/origin" "$T/git/a/clone" && git clone -q "$T/git/origin" "$T/git/b/deeper/clone"
KOFARM_CACHE_DIR=$T/cache5 kf_in "$T/git/a/clone" build ./cmd/app
assert_kf_ok "build of a git clone"
GIT_REF=$KF_OUT
KOFARM_CACHE_DIR=$T/cache6 kf_in "$T/git/b/deeper/clone" build ./cmd/app
assert_eq "clone of the same commit at another path: same digest" "$GIT_REF" "$KF_OUT"
assert_ne "the commit is part of the image (VCS stamp)" "$COPY_REF" "$GIT_REF"
# A change must change the digest (the checks above could not pass by accident).
echo "changed" >"$T/x/hello-copy-with-a-longer-path/cmd/app/kodata/greeting.txt"
kf_in "$T/x/hello-copy-with-a-longer-path" build ./cmd/app
assert_kf_ok "build of the changed copy"
assert_ne "changed kodata: another digest" "$REF" "$KF_OUT"

# ---- --platform=all: an index of the three base platforms, each runnable
kf_in "$FIXTURE" build --platform=all ./cmd/app
assert_kf_ok "build --platform=all"
assert_match "all: prints the index reference" "^$R/t/app-$APP_MD5@$SHA\$" "$KF_OUT"
IDX=$KF_OUT
idx_raw=$(verify_image "$IDX")
assert_eq "all: an OCI index" "$OCI_INDEX" "$(jq -r .mediaType <<<"$idx_raw")"
assert_eq "all: index digest printed = served bytes" "${IDX#*@}" "$(raw_digest "$IDX")"
assert_eq "all: entries keep the base's platforms, in order" "linux/amd64 linux/arm64 linux/arm/v7" \
  "$(jq -r '[.manifests[].platform | [.os, .architecture, .variant // empty] | join("/")] | join(" ")' <<<"$idx_raw")"
assert_eq "all: entries are OCI manifests" "$OCI_MANIFEST $OCI_MANIFEST $OCI_MANIFEST" \
  "$(jq -r '[.manifests[].mediaType] | join(" ")' <<<"$idx_raw")"
assert_eq "all: index base.name annotation" "$BASE" \
  "$(jq -r '.annotations["org.opencontainers.image.base.name"]' <<<"$idx_raw")"
assert_eq "all: index base.digest = base index digest" "${BASE_OUT#*@}" \
  "$(jq -r '.annotations["org.opencontainers.image.base.digest"]' <<<"$idx_raw")"
amd64_entry=$(jq -r '.manifests[0].digest' <<<"$idx_raw")
assert_eq "all: the amd64 entry is the single-platform image" "${REF#*@}" "$amd64_entry"
for p in linux/amd64 linux/arm64 linux/arm/v7; do
  run_image "$IDX" "$p"
  assert_eq "all: $p entry runs and reads its kodata" "0:$GREETING" "$RUN_RC:$RUN_OUT"
  want_arch=${p#linux/}
  assert_eq "all: $p config platform" "$want_arch" \
    "$(jq -r '.architecture + (if .variant then "/" + .variant else "" end)' "$RUN_DIR/config.json")"
  entry=$(jq -c --arg a "${want_arch%%/*}" '.manifests[] | select(.platform.architecture == $a)' <<<"$idx_raw")
  blob=$(oci_blob "$RUN_DIR/layout" "$(jq -r .digest <<<"$entry")")
  assert_eq "all: $p index entry size = its manifest's bytes" "$(jq -r .size <<<"$entry")" "$(stat -c %s "$blob")"
done
kf_in "$FIXTURE" build --platform=all ./cmd/app
assert_eq "all: second build, same index digest" "$IDX" "$KF_OUT"
kf_in "$FIXTURE" build --platform=linux/arm64,linux/arm/v7 ./cmd/app
assert_kf_ok "build two named platforms"
assert_eq "two platforms: index of exactly those" "linux/arm64 linux/arm/v7" \
  "$(verify_image "$KF_OUT" | jq -r '[.manifests[].platform | [.os, .architecture, .variant // empty] | join("/")] | join(" ")')"
kf_in "$FIXTURE" build --platform=linux/arm64 ./cmd/app
assert_eq "one named platform: a single manifest" "$OCI_MANIFEST" "$(verify_image "$KF_OUT" | jq -r .mediaType)"
assert_eq "linux/arm64 alone = the arm64 entry of the index" \
  "$(jq -r '.manifests[1].digest' <<<"$idx_raw")" "${KF_OUT#*@}"

# ---- scratch: built in, no base layers; several platforms give an index
KO_DEFAULTBASEIMAGE=scratch kf_in "$FIXTURE" build -B ./cmd/app
assert_kf_ok "scratch build"
run_image "$KF_OUT" linux/amd64
assert_eq "scratch image runs" "0:$GREETING" "$RUN_RC:$RUN_OUT"
assert_eq "scratch: two layers only" "2" "$(jq '.layers | length' "$RUN_DIR/manifest.json")"
assert_eq "scratch: env" '["PATH=/ko-app","KO_DATA_PATH=/var/run/ko"]' "$(jq -c .config.Env "$RUN_DIR/config.json")"
assert_eq "scratch: no user" "" "$(jq -r '.config.User // ""' "$RUN_DIR/config.json")"
KO_DEFAULTBASEIMAGE=scratch kf_in "$FIXTURE" build -B --platform=linux/amd64,linux/arm64 ./cmd/app
assert_kf_ok "scratch, two platforms"
assert_eq "scratch, two platforms: an index" "$OCI_INDEX" "$(verify_image "$KF_OUT" | jq -r .mediaType)"
run_image "$KF_OUT" linux/arm64
assert_eq "scratch arm64 entry runs under qemu-aarch64" "0:$GREETING" "$RUN_RC:$RUN_OUT"

# ---- -j bounds the go builds running at once (a platform's layering and
# push may overlap the next go build; ko's --jobs also leaves pushes out).
# A go shim logs each go build's start (+, with its GOMAXPROCS) and end (-).
mkdir -p "$T/jbin"
cat >"$T/jbin/go" <<EOF
#!/bin/sh
if [ "\$1" = build ]; then
  echo "+ \${GOMAXPROCS:-all}" >>"$T/jobs.log"; sleep 0.3; $(command -v go) "\$@"; rc=\$?
  echo - >>"$T/jobs.log"; exit \$rc
fi
exec $(command -v go) "\$@"
EOF
chmod +x "$T/jbin/go"
max_running() { awk '/\+/ {n++; if (n > m) m = n} /-/ {n--} END {print m + 0}' "$T/jobs.log"; }
for j in 1 2; do
  : >"$T/jobs.log"
  PATH="$T/jbin:$PATH" KO_DEFAULTBASEIMAGE=scratch kf_in "$FIXTURE" build -B -j $j --repo "$R/jobs$j" \
    --platform=linux/amd64,linux/arm64,linux/386,linux/arm/v7 ./cmd/app
  assert_kf_ok "-j $j, four platforms"
  assert_eq "-j $j: four go builds, at most $j at once" "4 $j" "$(grep -c + "$T/jobs.log") $(max_running)"
  assert_eq "-j $j: a four-entry index" "4" "$(verify_image "$KF_OUT" | jq '.manifests | length')"
done
# With -j 2 each go build gets half the cores, but the last to start gets
# them all: the others end while it runs.
half=$(($(nproc) / 2))
[ "$half" -ge 1 ] || half=1
assert_eq "-j 2: GOMAXPROCS of the four go builds" "$half $half $half all" \
  "$(awk '/\+/ {print $2}' "$T/jobs.log" | sort | tr '\n' ' ' | sed 's/ $//')"

# ---- naming
kf_in "$FIXTURE" build -B ./cmd/app
assert_match "-B: REPO/app" "^$R/t/app@$SHA\$" "$KF_OUT"
assert_eq "-B: same image" "${REF#*@}" "${KF_OUT#*@}"
kf_in "$FIXTURE" build --base-import-paths ./cmd/app
assert_match "--base-import-paths" "^$R/t/app@$SHA\$" "$KF_OUT"
kf_in "$FIXTURE" build -P ./cmd/app
assert_match "-P: REPO/import/path" "^$R/t/example.com/hello/cmd/app@$SHA\$" "$KF_OUT"
assert_eq "-P: pushed there" "${KF_OUT#*@}" "$(raw_digest "$R/t/example.com/hello/cmd/app:latest")"
kf_in "$FIXTURE" build --preserve-import-paths ./cmd/app
assert_match "--preserve-import-paths" "^$R/t/example.com/hello/cmd/app@$SHA\$" "$KF_OUT"
kf_in "$FIXTURE" build --bare ./cmd/app
assert_match "--bare: REPO" "^$R/t@$SHA\$" "$KF_OUT"
assert_eq "--bare: pushed there" "${KF_OUT#*@}" "$(raw_digest "$R/t:latest")"
kf_in "$FIXTURE" build -B --repo "$R/other/place" ./cmd/app
assert_match "--repo overrides KO_DOCKER_REPO" "^$R/other/place/app@$SHA\$" "$KF_OUT"
kf_in "$FIXTURE" build -B -P ./cmd/app
assert_eq "-B with -P is a usage error" "2" "$KF_RC"

# ---- tags
kf_in "$FIXTURE" build -B --repo "$R/tags" -t v1,v2 --tags v3 ./cmd/app
assert_kf_ok "build with tags"
TREF=$KF_OUT
for tag in v1 v2 v3; do
  assert_eq "tag $tag pushed" "${TREF#*@}" "$(raw_digest "$R/tags/app:$tag")"
done
assert_eq "tags listed by the registry" '["v1","v2","v3"]' \
  "$(skopeo list-tags --tls-verify=false "docker://$R/tags/app" | jq -c '.Tags | sort')"
# ko prints NAME:TAG@digest when exactly one tag other than latest is given.
kf_in "$FIXTURE" build -B --repo "$R/tags1" -t v1.0.0 ./cmd/app
assert_eq "one non-latest tag: printed as NAME:TAG@digest (as ko)" "$R/tags1/app:v1.0.0@${REF#*@}" "$KF_OUT"
kf_in "$FIXTURE" build -B --repo "$R/tags1" -t latest ./cmd/app
assert_eq "-t latest: printed as NAME@digest" "$R/tags1/app@${REF#*@}" "$KF_OUT"
kf_in "$FIXTURE" build -B --repo "$R/tags" -t 'bad:tag' ./cmd/app
assert_eq "a tag with ':' is a usage error" "2" "$KF_RC"

# ---- --image-refs
kf_in "$FIXTURE" build --image-refs "$T/refs.txt" ./cmd/server ./cmd/app
assert_kf_ok "build with --image-refs"
assert_eq "--image-refs file = stdout" "$KF_OUT" "$(cat "$T/refs.txt")"
assert_eq "--image-refs file ends with a newline" "0a" "$(tail -c1 "$T/refs.txt" | od -An -tx1 | tr -d ' ')"
assert_eq "--image-refs file has two lines" "2" "$(wc -l <"$T/refs.txt")"

# ---- labels, annotations, user
kf_in "$FIXTURE" build -B --repo "$R/meta" --image-label team=core --image-label tier=backend,env=ci \
  --image-annotation org.example.note=hello --image-user 1234:5678 ./cmd/app
assert_kf_ok "build with labels, annotations, user"
MREF=$KF_OUT
mcfg=$(image_config "$MREF")
assert_eq "labels in the config" '{"env":"ci","team":"core","tier":"backend"}' "$(jq -cS .config.Labels <<<"$mcfg")"
assert_eq "user replaced" "1234:5678" "$(jq -r .config.User <<<"$mcfg")"
assert_eq "manifest annotations: ours + base name/digest" \
  "{\"org.example.note\":\"hello\",\"org.opencontainers.image.base.digest\":\"$BASE_AMD64_DIGEST\",\"org.opencontainers.image.base.name\":\"$BASE\"}" \
  "$(verify_image "$MREF" | jq -cS .annotations)"
assert_eq "skopeo inspect shows the labels" '{"env":"ci","team":"core","tier":"backend"}' \
  "$(skopeo inspect --tls-verify=false "docker://$MREF" | jq -cS .Labels)"
assert_ne "labels change the digest" "${REF#*@}" "${MREF#*@}"

# ---- SOURCE_DATE_EPOCH and KO_DATA_DATE_EPOCH
SOURCE_DATE_EPOCH=1700000000 kf_in "$FIXTURE" build -B --repo "$R/epoch" ./cmd/app
assert_kf_ok "build with SOURCE_DATE_EPOCH"
assert_eq "SOURCE_DATE_EPOCH sets created" "2023-11-14T22:13:20Z" "$(image_config "$KF_OUT" | jq -r .created)"
assert_eq "SOURCE_DATE_EPOCH sets the binary layer's history time" "2023-11-14T22:13:20Z" \
  "$(image_config "$KF_OUT" | jq -r '.history[-1].created')"
KO_DATA_DATE_EPOCH=1600000000 kf_in "$FIXTURE" build -B --repo "$R/epoch2" ./cmd/app
assert_kf_ok "build with KO_DATA_DATE_EPOCH"
pull_rootfs "$KF_OUT" linux/amd64 "$T/epoch2"
assert_eq "KO_DATA_DATE_EPOCH sets kodata mtimes only" \
  "2020-09-13 12:26:40 var|2020-09-13 12:26:40 var/run/ko/sub/nested.txt|1970-01-01 00:00:00 ko-app/app" \
  "$(layer_listing "$T/epoch2" 1 | sed -n '1p;6p' | cut -d' ' -f4,5,6 | tr '\n' '|')$(layer_listing "$T/epoch2" 2 | sed -n 2p | cut -d' ' -f4,5,6)"
SOURCE_DATE_EPOCH=yesterday kf_in "$FIXTURE" build ./cmd/app
assert_kf_fails "SOURCE_DATE_EPOCH that is not a number" 1 'SOURCE_DATE_EPOCH'

# ---- --push=false: OCI layout and docker tarball, nothing pushed
kf_in "$FIXTURE" build -B --repo "$R/local" --push=false --oci-layout-path "$T/layout1" ./cmd/app
assert_kf_ok "--push=false with --oci-layout-path"
assert_eq "--oci-layout-path alone prints DIR@digest (as ko)" "$T/layout1@${REF#*@}" "$KF_OUT"
kf_in "$FIXTURE" build -B --repo "$R/local" --push=false --oci-layout-path "$T/layout" --tarball "$T/image.tar" ./cmd/app
assert_kf_ok "--push=false with --oci-layout-path and --tarball"
LREF=$KF_OUT
assert_match "layout and tarball: the tarball's REPO/NAME@digest (ko prints the last publisher's)" "^$R/local/app@$SHA\$" "$LREF"
assert_eq "--push=false: same image as pushed" "${REF#*@}" "${LREF#*@}"
assert_eq "--push=false: nothing in the registry" "no" \
  "$(skopeo inspect --raw --tls-verify=false "docker://$R/local/app:latest" >/dev/null 2>&1 && echo yes || echo no)"
assert_ok "OCI layout: skopeo inspect oci:DIR" skopeo inspect "oci:$T/layout"
assert_eq "OCI layout: index.json names the printed digest" "${LREF#*@}" \
  "$(jq -r '.manifests[0].digest' "$T/layout/index.json")"
assert_eq "OCI layout: manifest blob = printed digest" "${LREF#*@}" \
  "sha256:$(sha256sum <"$(oci_blob "$T/layout" "${LREF#*@}")" | cut -d' ' -f1)"
assert_eq "OCI layout: oci-layout file" '{"imageLayoutVersion":"1.0.0"}' "$(jq -c . "$T/layout/oci-layout")"
assert_contains "tarball: tar -tf shows manifest.json" "manifest.json" "$(tar -tf "$T/image.tar")"
assert_eq "tarball: RepoTags" "[\"$R/local/app:latest\"]" "$(tar -xOf "$T/image.tar" manifest.json | jq -c '.[0].RepoTags')"
assert_eq "tarball: skopeo reads the same config" \
  "$(skopeo inspect --config --raw "oci:$T/layout" | sha256sum)" \
  "$(skopeo inspect --config --raw "docker-archive:$T/image.tar" | sha256sum)"
mkdir -p "$T/fromtar"
assert_ok "tarball: skopeo copies it into a registry" \
  skopeo copy -q --dest-tls-verify=false "docker-archive:$T/image.tar" "docker://$R/fromtar/app:x"
run_image "$R/fromtar/app:x" linux/amd64
assert_eq "tarball image runs" "0:$GREETING" "$RUN_RC:$RUN_OUT"
kf_in "$FIXTURE" build -B --repo "$R/local" --push=false --oci-layout-path "$T/layout-all" --platform=all ./cmd/app
assert_kf_ok "--push=false --platform=all into an OCI layout"
assert_eq "OCI layout of an index" "$OCI_INDEX" "$(jq -r '.manifests[0].mediaType' "$T/layout-all/index.json")"
assert_eq "OCI layout index = pushed index" "${IDX#*@}" "${KF_OUT#*@}"

# ---- containerize: a prebuilt binary wrapped the same way
mkdir -p "$T/bin"
(cd "$FIXTURE" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o "$T/bin/app" ./cmd/app) ||
  fail "go build of the prebuilt binary"
KO_DEFAULTBASEIMAGE=scratch kf_in "$FIXTURE" containerize --name app -B --repo "$R/cz" "$T/bin/app"
assert_kf_ok "containerize a prebuilt binary"
assert_match "containerize prints REPO/app@digest" "^$R/cz/app@$SHA\$" "$KF_OUT"
pull_rootfs "$KF_OUT" linux/amd64 "$T/cz"
assert_eq "containerize: the binary as given" "$(sha256sum <"$T/bin/app")" "$(sha256sum <"$T/cz/rootfs/ko-app/app")"

# ---- the same binary pushed again: a registry holding the image is left alone
cz_again() { # REPO [FLAGS...]
  local repo=$1
  shift
  KOFARM_CACHE_DIR=$T/czcache KO_DEFAULTBASEIMAGE=scratch kf_in "$FIXTURE" containerize --name app -B \
    --repo "$repo" "$@" "$T/bin/app"
}
cz_again "$R/again"
assert_kf_ok "containerize into a new repository"
FIRST=$KF_OUT
cz_again "$R/again"
assert_eq "unchanged binary again: same reference" "$FIRST" "$KF_OUT"
assert_contains "unchanged binary again: the tag already names it" "$R/again/app:latest is already sha256:" "$KF_ERR"
assert_not_contains "unchanged binary again: nothing tagged" "Tagging" "$KF_ERR"
# Two platforms: every platform image is in place, and so is the index.
cz_again "$R/again-index" --platform=linux/amd64,linux/arm64
assert_kf_ok "two platforms into a new repository"
FIRST_INDEX=$KF_OUT
cz_again "$R/again-index" --platform=linux/amd64,linux/arm64
assert_eq "two platforms again: same index" "$FIRST_INDEX" "$KF_OUT"
assert_contains "two platforms again: the tag already names the index" \
  "$R/again-index/app:latest is already ${FIRST_INDEX#*@}" "$KF_ERR"
assert_not_contains "two platforms again: nothing tagged" "Tagging" "$KF_ERR"
cz_again "$R/again" -t v2
assert_contains "a new tag for a pushed image is written" "Tagging $R/again/app:v2" "$KF_ERR"
assert_eq "the new tag names the image" "${FIRST#*@}" \
  "sha256:$(skopeo inspect --raw --tls-verify=false "docker://$R/again/app:v2" | sha256sum | cut -d' ' -f1)"
skopeo copy -q --dest-tls-verify=false --src-tls-verify=false "docker://$R/fromtar/app:x" "docker://$R/again/app:latest" ||
  fail "skopeo copy over the tag"
cz_again "$R/again"
assert_contains "a tag moved elsewhere is written again" "Tagging $R/again/app:latest" "$KF_ERR"
assert_eq "the tag is back on the image" "${FIRST#*@}" \
  "sha256:$(skopeo inspect --raw --tls-verify=false "docker://$R/again/app:latest" | sha256sum | cut -d' ' -f1)"
# A cache entry damaged in place (same size) while a new repository needs
# the blob: the layer is made again from the binary, with the same digest.
for f in "$T"/czcache/layers/*.layer; do
  printf 'X' | dd of="$f" bs=1 seek=4096 conv=notrunc status=none
done
cz_again "$R/again-fresh"
assert_kf_ok "damaged cache entry: pushed anyway"
assert_eq "damaged cache entry: same digest" "${FIRST#*@}" "${KF_OUT#*@}"
pull_rootfs "$KF_OUT" linux/amd64 "$T/cz2"
assert_eq "damaged cache entry: the binary as given" "$(sha256sum <"$T/bin/app")" \
  "$(sha256sum <"$T/cz2/rootfs/ko-app/app")"

# ---- usage
kf build
assert_eq "no import path: usage error" "2" "$KF_RC"
kf build --no-such-flag ./cmd/app
assert_eq "unknown flag: usage error" "2" "$KF_RC"
kf version
assert_match "version" "^kofarm [0-9]" "$KF_OUT"
kf frobnicate
assert_eq "unknown command: usage error" "2" "$KF_RC"
assert_contains "unknown command: named" 'kofarm: unknown command "frobnicate"' "$KF_ERR"

finish
