#!/usr/bin/env bash
# .ko.yaml through the CLI: defaultBaseImage, baseImageOverrides,
# defaultPlatforms, defaultFlags/defaultLdflags, builds[] (dir, main, flags,
# ldflags with {{.Env.NAME}}), KO_CONFIG_PATH, the environment overriding the
# file, -toolexec refused, malformed files reported with file:line:col.
. "$(dirname "$0")/lib.sh"
need_kofarm

SHA='sha256:[0-9a-f]{64}'
GREETING=$'hello from kofarm\nhi from kodata'
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
OCI_INDEX=application/vnd.oci.image.index.v1+json

start_registry
R=$REGISTRY
make_base "$R/base/seed:latest" linux/amd64,linux/arm64,linux/arm/v7 --user 65532
BASE=$R/base/seed:latest
export KO_DOCKER_REPO=$R/k

# A copy of the module with three more commands that print how they were built.
M=$T/mod
copy_fixture "$M"
for cmd in ver ver2 ver3; do
  mkdir -p "$M/cmd/$cmd"
  cat >"$M/cmd/$cmd/main.go" <<'GO'
// Prints the values the build set through -ldflags -X and build tags.
package main

import "fmt"

var version = "unset"
var tagged = "none"

func main() { fmt.Println("version", version, "tagged", tagged) }
GO
  printf '//go:build kftag\n\npackage main\n\nfunc init() { tagged = "kftag" }\n' >"$M/cmd/$cmd/kftag.go"
  printf '//go:build deftag\n\npackage main\n\nfunc init() { tagged = "deftag" }\n' >"$M/cmd/$cmd/deftag.go"
done

cat >"$M/.ko.yaml" <<EOF
defaultBaseImage: $BASE
baseImageOverrides:
  example.com/hello/cmd/server: scratch
defaultPlatforms:
  - linux/arm64
  - linux/arm/v7
defaultFlags:
  - -tags=deftag
defaultLdflags:
  - -X main.version=default-{{.Env.APP_VERSION}}
builds:
  - id: ver
    main: ./cmd/ver
    flags:
      - -tags=kftag
    ldflags:
      - -s
      - -w
      - -X main.version={{.Env.APP_VERSION}}
  - id: ver3
    dir: ./cmd
    main: ./ver3
    ldflags:
      - -X main.version=three
EOF
export APP_VERSION=1.2.3

platforms_of() { verify_image "$1" | jq -r '[.manifests[]?.platform | [.os, .architecture, .variant // empty] | join("/")] | join(" ")'; }

# ---- builds[] entry: flags and ldflags (templated) replace the defaults
kf_in "$M" build -B ./cmd/ver
assert_kf_ok "build ./cmd/ver with .ko.yaml"
assert_match "ver: reference" "^$R/k/ver@$SHA\$" "$KF_OUT"
VER=$KF_OUT
assert_eq "defaultPlatforms: an index of linux/arm64 and linux/arm/v7" "linux/arm64 linux/arm/v7" "$(platforms_of "$VER")"
assert_eq "defaultBaseImage: base.name" "$BASE" \
  "$(verify_image "$VER" | jq -r '.annotations["org.opencontainers.image.base.name"]')"
run_image "$VER" linux/arm64
assert_eq "builds[].flags and ldflags (with {{.Env.APP_VERSION}}) took effect (arm64)" \
  "0:version 1.2.3 tagged kftag" "$RUN_RC:$RUN_OUT"
assert_eq "defaultBaseImage: the base's layer is under ours" "3" "$(jq '.layers | length' "$RUN_DIR/manifest.json")"
assert_eq "defaultBaseImage: base user" "65532" "$(jq -r .config.User "$RUN_DIR/config.json")"
# go omits -ldflags from the build info under -trimpath; -s shows as no symbol table.
buildinfo=$(go version -m "$RUN_DIR/rootfs/ko-app/ver")
assert_contains "builds[].ldflags -s: stripped" "no symbols" "$(go tool nm "$RUN_DIR/rootfs/ko-app/ver" 2>&1 | head -3)"
assert_contains "buildinfo: -trimpath" 'build	-trimpath=true' "$buildinfo"
assert_contains "buildinfo: CGO_ENABLED=0" 'build	CGO_ENABLED=0' "$buildinfo"
run_image "$VER" linux/arm/v7
assert_eq "builds[] (arm/v7 under qemu-arm)" "0:version 1.2.3 tagged kftag" "$RUN_RC:$RUN_OUT"
assert_contains "arm/v7 built with GOARM=7" 'build	GOARM=7' "$(go version -m "$RUN_DIR/rootfs/ko-app/ver")"

# ---- no builds[] entry: defaultFlags and defaultLdflags
kf_in "$M" build -B ./cmd/ver2
assert_kf_ok "build ./cmd/ver2"
run_image "$KF_OUT" linux/arm64
assert_eq "defaultFlags and defaultLdflags took effect" "0:version default-1.2.3 tagged deftag" "$RUN_RC:$RUN_OUT"

# ---- builds[].dir + main; flags not set there -> defaultFlags
kf_in "$M" build -B ./cmd/ver3
assert_kf_ok "build ./cmd/ver3 (builds[].dir)"
run_image "$KF_OUT" linux/arm64
assert_eq "builds[].dir/main matched; its ldflags, default flags" "0:version three tagged deftag" "$RUN_RC:$RUN_OUT"

# ---- the per-build entry applies to its package only
kf_in "$M" build -B ./cmd/app
assert_kf_ok "build ./cmd/app with .ko.yaml"
run_image "$KF_OUT" linux/arm/v7
assert_eq "cmd/app still runs (arm/v7)" "0:$GREETING" "$RUN_RC:$RUN_OUT"
assert_contains "cmd/app: the default flags, not ver's" 'build	-tags=deftag' "$(go version -m "$RUN_DIR/rootfs/ko-app/app")"
assert_contains "cmd/app: not stripped (ver's -s did not leak)" " T main.main" "$(go tool nm "$RUN_DIR/rootfs/ko-app/app" 2>&1)"

# ---- baseImageOverrides
kf_in "$M" build -B ./cmd/server
assert_kf_ok "build ./cmd/server (overridden base)"
pull_rootfs "$KF_OUT" linux/arm64 "$T/server"   # a server: not run
assert_eq "baseImageOverrides: scratch, so no base layer" "2" "$(jq '.layers | length' "$T/server/manifest.json")"
assert_eq "baseImageOverrides: no /etc/passwd" "absent" "$([ -e "$T/server/rootfs/etc/passwd" ] && echo present || echo absent)"

# ---- the environment and flags over the file
KO_DEFAULTPLATFORMS=linux/amd64 kf_in "$M" build -B ./cmd/app
assert_kf_ok "KO_DEFAULTPLATFORMS over defaultPlatforms"
assert_eq "KO_DEFAULTPLATFORMS=linux/amd64: a single manifest" "$OCI_MANIFEST" "$(verify_image "$KF_OUT" | jq -r .mediaType)"
kf_in "$M" build -B --platform=linux/amd64,linux/arm64 ./cmd/app
assert_eq "--platform over defaultPlatforms" "linux/amd64 linux/arm64" "$(platforms_of "$KF_OUT")"
KO_DEFAULTBASEIMAGE=scratch kf_in "$M" build -B --platform=linux/amd64 ./cmd/app
assert_kf_ok "KO_DEFAULTBASEIMAGE over defaultBaseImage"
run_image "$KF_OUT" linux/amd64
assert_eq "KO_DEFAULTBASEIMAGE=scratch: two layers" "2" "$(jq '.layers | length' "$RUN_DIR/manifest.json")"
assert_eq "KO_DEFAULTBASEIMAGE=scratch: runs" "0:$GREETING" "$RUN_RC:$RUN_OUT"

# ---- KO_CONFIG_PATH: a directory holding .ko.yaml, or the file itself
N=$T/noconfig
copy_fixture "$N"
mkdir -p "$T/cfgdir"
printf 'defaultBaseImage: %s\ndefaultPlatforms: [linux/arm64]\n' "$BASE" >"$T/cfgdir/.ko.yaml"
KO_CONFIG_PATH=$T/cfgdir kf_in "$N" build -B ./cmd/app
assert_kf_ok "KO_CONFIG_PATH=directory"
assert_eq "KO_CONFIG_PATH=directory: its platforms" "$OCI_MANIFEST linux/arm64" \
  "$(verify_image "$KF_OUT" | jq -r .mediaType) $(image_config "$KF_OUT" | jq -r '.os + "/" + .architecture')"
cp "$T/cfgdir/.ko.yaml" "$T/other-name.yaml"
KO_CONFIG_PATH=$T/other-name.yaml kf_in "$N" build -B ./cmd/app
assert_kf_ok "KO_CONFIG_PATH=file"
assert_eq "KO_CONFIG_PATH=file: its base" "$BASE" \
  "$(verify_image "$KF_OUT" | jq -r '.annotations["org.opencontainers.image.base.name"]')"

# ---- a missing template key is an error naming it
unset APP_VERSION
kf_in "$M" build -B ./cmd/ver
export APP_VERSION=1.2.3
assert_kf_fails "{{.Env.X}} with X unset fails" 1 'APP_VERSION'

# ---- -toolexec is refused, in flags and in GOFLAGS
E=$T/badcfg
copy_fixture "$E"
printf 'defaultBaseImage: scratch\nbuilds:\n  - id: evil\n    main: ./cmd/app\n    flags: [-toolexec=/bin/true]\n' >"$E/.ko.yaml"
kf_in "$E" build -B --push=false ./cmd/app
assert_kf_fails "-toolexec in builds[].flags refused" 1 'toolexec'
printf 'defaultBaseImage: scratch\ndefaultFlags: ["-toolexec", "/bin/true"]\n' >"$E/.ko.yaml"
kf_in "$E" build -B --push=false ./cmd/app
assert_kf_fails "-toolexec in defaultFlags refused" 1 'toolexec'
printf 'defaultBaseImage: scratch\ndefaultEnv: [GOFLAGS=-toolexec=/bin/true]\n' >"$E/.ko.yaml"
kf_in "$E" build -B --push=false ./cmd/app
assert_kf_fails "-toolexec in the config's GOFLAGS refused" 1 'toolexec'
rm -f "$E/.ko.yaml"
GOFLAGS="-mod=mod -toolexec=/bin/true" KO_DEFAULTBASEIMAGE=scratch kf_in "$E" build -B --push=false ./cmd/app
assert_kf_fails "-toolexec in the environment's GOFLAGS refused" 1 'toolexec'

# ---- malformed files: the message names file:line:col
bad_yaml() { # NAME CONTENT PATTERN
  printf '%s' "$2" >"$E/.ko.yaml"
  KO_DEFAULTBASEIMAGE=scratch kf_in "$E" build -B --push=false ./cmd/app
  assert_kf_fails "$1" 1 "$3"
}
bad_yaml "unknown key" $'defaultBaseImage: scratch\nbuilds:\n  - id: x\n    flagz: [-v]\n' \
  '\.ko\.yaml:4:5: .*flagz'
bad_yaml "unknown top-level key" $'defaultBaseImage: scratch\ndefaultPlatform: linux/amd64\n' \
  '\.ko\.yaml:2:1: .*defaultPlatform'
bad_yaml "wrong type (map for a list)" $'defaultPlatforms:\n  linux: amd64\n' \
  '\.ko\.yaml:2:3: '
bad_yaml "wrong type (list for a string)" $'defaultBaseImage: [a, b]\n' \
  '\.ko\.yaml:1:19: '
bad_yaml "YAML syntax error" $'defaultBaseImage: scratch\nbuilds: [\n' \
  '\.ko\.yaml:[0-9]+:[0-9]+: '
bad_yaml "tab indentation" $'builds:\n\t- id: x\n' \
  '\.ko\.yaml:[0-9]+:[0-9]+: '
assert_contains "the message names the file's path" "$E/.ko.yaml" "$KF_ERR"

finish
