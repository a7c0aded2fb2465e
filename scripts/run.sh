#!/usr/bin/env bash
# The run command: installs what is missing, builds kofarm, starts a private
# registry on 127.0.0.1 (5000 or the next free port; state in .state/,
# reused while it runs), seeds it with kofarm's small static base image for
# linux/amd64, linux/arm64 and linux/arm/v7, builds the bundled example
# (tests/fixtures/hello/cmd/server) on it with `kofarm build`, and prints the
# pushed reference and how to run it. scripts/stop.sh stops the registry.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=$ROOT/.state
REG_DIR=$STATE/registry
BUILD_DIR=${KF_BUILD_DIR:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
KOFARM=$BUILD_DIR/bin/kofarm
PLATFORMS=linux/amd64,linux/arm64,linux/arm/v7

say() { printf '==> %s\n' "$*" >&2; }

say "checking Debian packages"
"$ROOT/scripts/deps.sh"
say "building kofarm"
"$ROOT/scripts/build.sh" --target kofarm >&2

mkdir -p "$REG_DIR"

registry_up() { # PORT
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/v2/" 2>/dev/null)" = 200 ]
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { # PID: running and not a zombie
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

PORT=""
if [ -f "$REG_DIR/pid" ] && [ -f "$REG_DIR/port" ]; then
  pid=$(cat "$REG_DIR/pid")
  port=$(cat "$REG_DIR/port")
  if alive "$pid" && registry_up "$port"; then
    PORT=$port
    say "reusing the registry on 127.0.0.1:$PORT (pid $pid)"
  fi
fi
if [ -z "$PORT" ]; then
  PORT=5000
  while port_busy "$PORT"; do
    PORT=$((PORT + 1))
    [ "$PORT" -lt 5100 ] || { echo "run.sh: no free port in 5000-5099" >&2; exit 1; }
  done
  cat >"$REG_DIR/config.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $REG_DIR/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$PORT, secret: kofarm-local}
EOF
  # setsid: the registry outlives this script; stop.sh ends it by its pid.
  setsid docker-registry serve "$REG_DIR/config.yml" >"$REG_DIR/log" 2>&1 </dev/null &
  echo $! >"$REG_DIR/pid"
  echo "$PORT" >"$REG_DIR/port"
  for _ in $(seq 1 100); do
    registry_up "$PORT" && break
    sleep 0.1
  done
  registry_up "$PORT" || { echo "run.sh: the registry did not start; see $REG_DIR/log" >&2; exit 1; }
  say "started a registry on 127.0.0.1:$PORT (pid $(cat "$REG_DIR/pid"), data in $REG_DIR/data)"
fi
REG=127.0.0.1:$PORT
export KOFARM_INSECURE_REGISTRIES=$REG

say "building the base image rootfs"
"$ROOT/scripts/mkbase-rootfs.sh" "$STATE/base-rootfs.tar"
BASE=$REG/kofarm/base:latest
say "pushing the base image $BASE ($PLATFORMS)"
"$KOFARM" base create --platform "$PLATFORMS" --layer "$STATE/base-rootfs.tar" --user 65532 \
  --env PATH=/usr/local/bin:/usr/bin:/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$BASE" >&2

say "kofarm build ./cmd/server (the bundled example) for $PLATFORMS"
export GOFLAGS=${GOFLAGS:--mod=mod} GOPROXY=${GOPROXY:-off}
REF=$(cd "$ROOT/tests/fixtures/hello" &&
      KO_DOCKER_REPO=$REG/example KO_DEFAULTBASEIMAGE=$BASE "$KOFARM" build --platform=all ./cmd/server)

cat <<EOF

Pushed: $REF

Inspect it:
  skopeo inspect --tls-verify=false docker://$REF
  skopeo inspect --tls-verify=false --raw docker://$REF | jq .
Run it here (no container engine needed: pulls, unpacks, chroots; Ctrl-C stops it):
  PORT=8080 scripts/run-image.sh $REF
  curl http://127.0.0.1:8080/        # -> hello from the kofarm example server
With a Docker daemon that trusts this registry:
  docker run --rm -p 8080:8080 $REF
Build your own (any Go main package, from its module):
  KO_DOCKER_REPO=$REG/me KO_DEFAULTBASEIMAGE=$BASE KOFARM_INSECURE_REGISTRIES=$REG $KOFARM build ./cmd/yours
Stop the registry:
  scripts/stop.sh
EOF
