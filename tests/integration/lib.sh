# Shared helpers for the CLI integration tests (source it; bash only).
# A test file: `. "$(dirname "$0")/lib.sh"`, then checks, then `finish`.
# Gives: a private temp dir ($T) removed at exit, private registries
# (start_registry), a smart-HTTP git server (start_git_http), the kofarm wrapper (kf), image inspection and running
# through skopeo + tar + chroot/qemu (never through kofarm's own reader),
# and counted assertions. Everything started here is stopped by PID at exit.

set -uo pipefail

KF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KOFARM=${KOFARM:-$KF_ROOT/build/bin/kofarm}
FIXTURE=$KF_ROOT/tests/fixtures/hello
TEST_NAME=$(basename "$0" .sh)

# Go offline and one shared compile cache for every test (a cold standard
# library costs ~12 s per platform).
export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local
export GOCACHE=${KF_GOCACHE:-$KF_ROOT/build/gocache}
mkdir -p "$GOCACHE"

T=$(mktemp -d "${TMPDIR:-/tmp}/kf-$TEST_NAME.XXXXXX")
chmod 711 "$T" # the postgres user must reach $T/pg
# Nothing from the user's own set-up leaks in: credentials, .ko.yaml, env.
export HOME=$T/home DOCKER_CONFIG=$T/docker KOFARM_CACHE_DIR=$T/kfcache
mkdir -p "$HOME" "$DOCKER_CONFIG"
unset KO_DOCKER_REPO KO_DEFAULTBASEIMAGE KO_DEFAULTPLATFORMS KO_CONFIG_PATH SOURCE_DATE_EPOCH \
      KO_DATA_DATE_EPOCH KOFARM_INSECURE_REGISTRIES KO_DATA_PATH_ALLOWED_ROOT

KF_PIDS=()
KF_PASSED=0
KF_FAILED=0
KF_FAILED_NAMES=()

kf_cleanup() {
  local pid
  # runuser does not pass our signal on to a restarted postmaster.
  if [ -n "${PG_DIR:-}" ] && [ -f "$PG_DIR/data/postmaster.pid" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
  fi
  for pid in "${KF_PIDS[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${KF_PIDS[@]}"; do
    wait "$pid" 2>/dev/null
  done
  KF_PIDS=()
  [ -n "${KF_KEEP_TMP:-}" ] || rm -rf "$T"
}
trap kf_cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '# %s\n' "$*" >&2; }

# ---------------------------------------------------------------- asserts

pass() { KF_PASSED=$((KF_PASSED + 1)); printf 'ok   %s\n' "$1"; }
fail() {
  KF_FAILED=$((KF_FAILED + 1))
  KF_FAILED_NAMES+=("$1")
  printf 'FAIL %s\n' "$1"
  shift
  local line
  for line in "$@"; do printf '     %s\n' "$line"; done
}

# assert_eq NAME EXPECTED ACTUAL
assert_eq() {
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "expected: $(printf %q "$2")" "actual:   $(printf %q "$3")"; fi
}
# assert_ne NAME A B
assert_ne() {
  if [ "$2" != "$3" ]; then pass "$1"; else fail "$1" "both are: $(printf %q "$2")"; fi
}
# assert_match NAME ERE ACTUAL
assert_match() {
  if [[ "$3" =~ $2 ]]; then pass "$1"; else fail "$1" "pattern: $2" "actual:  $(printf %q "$3")"; fi
}
# assert_contains NAME NEEDLE HAYSTACK
assert_contains() {
  if [[ "$3" == *"$2"* ]]; then pass "$1"; else fail "$1" "missing: $(printf %q "$2")" "in:      $(printf %q "$3")"; fi
}
# assert_not_contains NAME NEEDLE HAYSTACK
assert_not_contains() {
  if [[ "$3" != *"$2"* ]]; then pass "$1"; else fail "$1" "unexpected: $(printf %q "$2")" "in:         $(printf %q "$3")"; fi
}
# assert_ok NAME CMD... : the command exits 0
assert_ok() {
  local name=$1 out rc
  shift
  out=$("$@" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then pass "$name"; else fail "$name" "command failed ($rc): $*" "${out:0:2000}"; fi
}

# Prints the counts (the line test.sh reads) and exits 1 on any failure.
finish() {
  if [ ${#KF_FAILED_NAMES[@]} -gt 0 ]; then
    printf 'failed checks in %s:\n' "$TEST_NAME"
    printf '  %s\n' "${KF_FAILED_NAMES[@]}"
  fi
  printf '%s: %d passed, %d failed\n' "$TEST_NAME" "$KF_PASSED" "$KF_FAILED"
  [ "$KF_FAILED" -eq 0 ]
  exit $?
}

# ---------------------------------------------------------------- kofarm

# kf ARGS... : runs kofarm; sets KF_RC, KF_OUT (stdout), KF_ERR (stderr).
kf() {
  "$KOFARM" "$@" >"$T/kf.out" 2>"$T/kf.err"
  KF_RC=$?
  KF_OUT=$(cat "$T/kf.out")
  KF_ERR=$(cat "$T/kf.err")
  return 0
}

# kf_in DIR ARGS... : kf with DIR as the working directory.
kf_in() {
  local dir=$1
  shift
  pushd "$dir" >/dev/null || return 1
  kf "$@"
  popd >/dev/null || return 1
}

# Shows a failed kofarm run's stderr (for failures' context).
kf_err_tail() { if [ ${#KF_ERR} -gt 1500 ]; then printf '...%s' "${KF_ERR: -1500}"; else printf '%s' "$KF_ERR"; fi; }

# assert_kf_ok NAME : the last kf run exited 0.
assert_kf_ok() {
  if [ "$KF_RC" -eq 0 ]; then pass "$1"; else fail "$1" "kofarm exited $KF_RC" "$(kf_err_tail)"; fi
}
# assert_kf_fails NAME RC PATTERN : the last kf run exited RC with a "kofarm: " message matching PATTERN.
assert_kf_fails() {
  local name=$1 rc=$2 pattern=$3
  if [ "$KF_RC" -ne "$rc" ]; then
    fail "$name" "expected exit $rc, got $KF_RC" "stdout: ${KF_OUT:0:300}" "stderr: $(kf_err_tail)"
  elif [ -n "$KF_OUT" ]; then
    fail "$name" "a failed run printed on stdout: ${KF_OUT:0:300}"
  elif [[ ! "$KF_ERR" =~ (^|$'\n')kofarm:\  ]]; then
    fail "$name" "no line starting with 'kofarm: ' on stderr" "$(kf_err_tail)"
  elif [[ ! "$KF_ERR" =~ $pattern ]]; then
    fail "$name" "stderr does not match: $pattern" "$(kf_err_tail)"
  else
    pass "$name"
    printf '     -> %s\n' "$(grep '^kofarm: ' <<<"$KF_ERR" | tail -n1 | cut -c1-300)"
  fi
}

# ---------------------------------------------------------------- registries

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on now,
# below the kernel's ephemeral range: an outgoing connection's local port
# (a client of the registry, say) would make a listener's bind fail.
free_port() {
  local p i lo=32768 span
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  span=$((lo - 10000))
  [ "$span" -ge 1000 ] || span=20000
  for i in $(seq 1 200); do
    p=$((10000 + (RANDOM * 32768 + RANDOM) % span))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# start_registry [--auth USER:PASS] : a private docker-registry on a free
# port. Sets REGISTRY (127.0.0.1:PORT) and REGISTRY_DIR; adds it to
# KOFARM_INSECURE_REGISTRIES. Stopped at exit.
start_registry() {
  local auth="" attempt port dir pid code
  if [ "${1:-}" = --auth ]; then auth=$2; fi
  for attempt in 1 2 3 4 5; do
    port=$(free_port) || break
    dir=$(mktemp -d "$T/registry.XXXXXX")
    {
      echo "version: 0.1"
      echo "log: {level: error, accesslog: {disabled: true}}"
      echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
      echo "http: {addr: 127.0.0.1:$port, secret: kofarm-test}"
      if [ -n "$auth" ]; then
        htpasswd -Bbn "${auth%%:*}" "${auth#*:}" >"$dir/htpasswd"
        echo "auth: {htpasswd: {realm: kofarm-test, path: $dir/htpasswd}}"
      fi
    } >"$dir/config.yml"
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    pid=$!
    KF_PIDS+=("$pid")
    local i
    for i in $(seq 1 100); do
      code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" 2>/dev/null)
      if [ "$code" = 200 ] || [ "$code" = 401 ]; then
        REGISTRY=127.0.0.1:$port
        REGISTRY_DIR=$dir
        export KOFARM_INSECURE_REGISTRIES=${KOFARM_INSECURE_REGISTRIES:+$KOFARM_INSECURE_REGISTRIES,}$REGISTRY
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    log "registry on port $port did not start: $(tail -3 "$dir/log")"
  done
  echo "lib.sh: cannot start docker-registry" >&2
  exit 1
}

# start_git_http DIR USER:PASS : serves the bare repositories under DIR
# (DIR/NAME.git) over smart HTTP on a free 127.0.0.1 port, behind HTTP Basic
# auth (tests/integration/git_http_server.py in front of git-http-backend).
# Sets GIT_HTTP (http://127.0.0.1:PORT, no credentials) and GIT_HTTP_LOG.
# Stopped at exit.
start_git_http() {
  local root=$1 auth=$2 attempt port pid code i
  GIT_HTTP_LOG=$T/git-http.log
  for attempt in 1 2 3 4 5; do
    port=$(free_port) || break
    KF_GIT_HTTP_AUTH=$auth /usr/bin/python3 "$KF_ROOT/tests/integration/git_http_server.py" "$root" "$port" \
      >>"$GIT_HTTP_LOG" 2>&1 &
    pid=$!
    KF_PIDS+=("$pid")
    for i in $(seq 1 100); do
      code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null)
      if [ "$code" = 401 ]; then
        GIT_HTTP=http://127.0.0.1:$port
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    log "git http server on port $port did not start: $(tail -3 "$GIT_HTTP_LOG")"
  done
  echo "lib.sh: cannot start the git http server" >&2
  exit 1
}

# ---------------------------------------------------------------- images

# SKOPEO_CREDS=user:pass makes the skopeo helpers authenticate.
skopeo_auth() { if [ -n "${SKOPEO_CREDS:-}" ]; then printf '%s\n' --creds "$SKOPEO_CREDS"; fi; }

# verify_image REF : prints the raw manifest (or index) of REF as the registry serves it.
verify_image() {
  local args
  mapfile -t args < <(skopeo_auth)
  skopeo inspect --raw --tls-verify=false "${args[@]}" "docker://$1"
}

# image_config REF : prints the config blob of REF (one platform: the host's).
image_config() {
  local args
  mapfile -t args < <(skopeo_auth)
  skopeo inspect --config --raw --tls-verify=false "${args[@]}" "docker://$1"
}

# raw_digest REF : the sha256 of the manifest bytes the registry serves.
raw_digest() {
  local d
  d=$(verify_image "$1" | sha256sum) || return 1
  echo "sha256:${d%% *}"
}

# oci_blob DIR DIGEST : the path of a blob in an OCI layout.
oci_blob() { echo "$1/blobs/${2%%:*}/${2#*:}"; }

# pull_rootfs REF PLATFORM DEST : copies REF with skopeo (all platforms) into
# an OCI layout, picks the manifest for PLATFORM (os/arch[/variant]) when REF
# is an index, extracts its layers in order into DEST/rootfs and leaves the
# manifest and config in DEST/manifest.json and DEST/config.json.
pull_rootfs() {
  local ref=$1 platform=$2 dest=$3 args desc mt digest layer
  local os=${platform%%/*} rest=${platform#*/} arch variant=""
  arch=${rest%%/*}
  [ "$rest" != "$arch" ] && variant=${rest#*/}
  args=()
  [ -z "${SKOPEO_CREDS:-}" ] || args=(--src-creds "$SKOPEO_CREDS")
  mkdir -p "$dest/rootfs"
  skopeo copy -q --all --src-tls-verify=false ${args[@]+"${args[@]}"} \
      "docker://$ref" "oci:$dest/layout:x" >"$dest/copy.log" 2>&1 || { cat "$dest/copy.log" >&2; return 1; }
  desc=$(jq -c '.manifests[0]' "$dest/layout/index.json")
  mt=$(jq -r .mediaType <<<"$desc")
  digest=$(jq -r .digest <<<"$desc")
  if [ "$mt" = application/vnd.oci.image.index.v1+json ] || [ "$mt" = application/vnd.docker.distribution.manifest.list.v2+json ]; then
    digest=$(jq -r --arg os "$os" --arg arch "$arch" --arg v "$variant" \
      '[.manifests[] | select(.platform.os == $os and .platform.architecture == $arch and ((.platform.variant // "") == $v))] | if length == 1 then .[0].digest else "none" end' \
      "$(oci_blob "$dest/layout" "$digest")")
    if [ "$digest" = none ]; then
      echo "pull_rootfs: $ref has not exactly one entry for $platform" >&2
      return 1
    fi
  fi
  cp "$(oci_blob "$dest/layout" "$digest")" "$dest/manifest.json"
  cp "$(oci_blob "$dest/layout" "$(jq -r .config.digest "$dest/manifest.json")")" "$dest/config.json"
  for layer in $(jq -r '.layers[].digest' "$dest/manifest.json"); do
    tar -xf "$(oci_blob "$dest/layout" "$layer")" -C "$dest/rootfs" 2>"$dest/tar.err" || { cat "$dest/tar.err" >&2; return 1; }
  done
}

# run_image REF [PLATFORM] : pulls REF, then runs its entrypoint with its
# config's Env: chrooted for linux/amd64, under qemu-aarch64/qemu-arm for
# arm64/arm (KO_DATA_PATH then points into the extracted rootfs). Sets
# RUN_OUT (the program's stdout and stderr), RUN_RC (its exit status; 97 when
# the pull failed, 98 when it cannot be run, 124 when it ran over 60 s) and RUN_DIR (manifest.json,
# config.json, layout/, rootfs/). Call it directly, not in $(...).
run_image() {
  local ref=$1 platform=${2:-linux/amd64} env entry qemu="" i
  RUN_DIR=$(mktemp -d "$T/run.XXXXXX")
  RUN_OUT=""
  RUN_RC=97
  if ! pull_rootfs "$ref" "$platform" "$RUN_DIR" 2>"$RUN_DIR/pull.err"; then
    RUN_OUT="pull of $ref ($platform) failed: $(cat "$RUN_DIR/pull.err")"
    return 0
  fi
  RUN_RC=98
  mapfile -t entry < <(jq -r '.config.Entrypoint[]?' "$RUN_DIR/config.json")
  mapfile -t env < <(jq -r '.config.Env[]?' "$RUN_DIR/config.json")
  if [ ${#entry[@]} -eq 0 ]; then
    RUN_OUT="$ref has no entrypoint"
    return 0
  fi
  case "$platform" in
    linux/amd64)
      # env -i drops PATH, so every program is named by its full path.
      RUN_OUT=$(cd "$RUN_DIR" && timeout -k 5 60 env -i ${env[@]+"${env[@]}"} "$(command -v chroot)" rootfs "${entry[@]}" 2>&1)
      RUN_RC=$?
      return 0 ;;
    linux/arm64*) qemu=qemu-aarch64 ;;
    linux/arm/*|linux/arm) qemu=qemu-arm ;;
    linux/386) qemu=qemu-i386 ;;
    *) RUN_OUT="cannot run $platform here"; return 0 ;;
  esac
  for i in "${!env[@]}"; do
    case "${env[$i]}" in
      KO_DATA_PATH=*) env[$i]="KO_DATA_PATH=$RUN_DIR/rootfs${env[$i]#KO_DATA_PATH=}" ;;
    esac
  done
  entry[0]=$RUN_DIR/rootfs${entry[0]}
  RUN_OUT=$(timeout -k 5 60 env -i ${env[@]+"${env[@]}"} "$(command -v "$qemu")" "${entry[@]}" 2>&1)
  RUN_RC=$?
  return 0
}

# md5_of STRING : hex md5 of exactly STRING.
md5_of() { local h; h=$(printf '%s' "$1" | md5sum); echo "${h%% *}"; }

# copy_fixture DEST : a copy of the hello module at DEST (no symlinks resolved away).
copy_fixture() {
  mkdir -p "$1"
  cp -a "$FIXTURE/." "$1/"
}

# need_kofarm : exits the file (counted as a failure) when the CLI is missing.
need_kofarm() {
  if [ ! -x "$KOFARM" ]; then
    fail "kofarm binary exists at $KOFARM" "build it first (scripts/build.sh)"
    finish
  fi
}

# make_base REF PLATFORMS [--user U] [--env K=V]... : pushes the seeded base
# rootfs (scripts/mkbase-rootfs.sh) as a multi-platform base with
# `kofarm base create`; sets BASE_OUT to what it printed (REF-name@sha256:…).
make_base() {
  local ref=$1 platforms=$2
  shift 2
  if [ ! -f "$T/rootfs.tar" ]; then
    "$KF_ROOT/scripts/mkbase-rootfs.sh" "$T/rootfs.tar" || return 1
  fi
  kf base create --platform "$platforms" --layer "$T/rootfs.tar" "$@" "$ref"
  BASE_OUT=$KF_OUT
  [ "$KF_RC" -eq 0 ] || { log "kofarm base create failed: $KF_ERR"; return 1; }
}

# Layer helpers on a pulled image (RUN_DIR from run_image/pull_rootfs).
# layer_file DIR N : the blob path of layer N (0-based; negative from the end).
layer_file() {
  local digest
  digest=$(jq -r --argjson n "$2" '.layers[$n].digest' "$1/manifest.json")
  oci_blob "$1/layout" "$digest"
}
# layer_listing DIR N : "mode uid/gid size date time name" per entry, in
# archive order, names without a leading "/" (GNU tar shows them stripped).
layer_listing() {
  TZ=UTC tar --numeric-owner --full-time -tvf "$(layer_file "$1" "$2")" 2>/dev/null |
    awk '{name=$6; for (i = 7; i <= NF; i++) name = name " " $i; sub(/^\//, "", name); sub(/\/$/, "", name); print $1, $2, $3, $4, $5, name}'
}

# ---------------------------------------------------------------- the service

KF_BIN_DIR=$(dirname "$KOFARM")
KOFARM_SERVER=${KOFARM_SERVER:-$KF_BIN_DIR/kofarm-server}
KOFARM_WORKER=${KOFARM_WORKER:-$KF_BIN_DIR/kofarm-worker}
PG_BIN=/usr/lib/postgresql/15/bin

# as_postgres CMD...: runs CMD as user postgres when we are root.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_postgres: a private cluster (initdb into $T/pg, socket there, a free
# 127.0.0.1 port, durable commits). Sets PG_DIR, PG_PORT and
# KOFARM_DATABASE_URL (database kofarm, user kofarm). Stopped at exit.
start_postgres() {
  PG_DIR=$T/pg
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_DIR"; chmod 700 "$PG_DIR"; fi
  as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U kofarm --auth=trust -E UTF8 --no-locale -N \
    >"$T/pg-initdb.log" 2>&1 || { echo "lib.sh: initdb failed: $(tail -3 "$T/pg-initdb.log")" >&2; exit 1; }
  local attempt
  for attempt in 1 2 3; do
    PG_PORT=$(free_port)
    if pg_launch; then
      as_postgres "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U kofarm kofarm >/dev/null 2>&1 || true
      export KOFARM_DATABASE_URL="postgresql://kofarm@127.0.0.1:$PG_PORT/kofarm"
      return 0
    fi
  done
  echo "lib.sh: postgres did not start: $(tail -5 "$PG_DIR/log")" >&2
  exit 1
}

# pg_launch: (re)starts the postmaster of PG_DIR on PG_PORT; 0 when it answers.
pg_launch() {
  local i
  as_postgres "$PG_BIN/postgres" -D "$PG_DIR/data" -p "$PG_PORT" -k "$PG_DIR" -c listen_addresses=127.0.0.1 \
    -c max_connections=200 -c fsync=on -c synchronous_commit=on >>"$PG_DIR/log" 2>&1 &
  PG_PID=$!
  KF_PIDS+=("$PG_PID")
  for i in $(seq 1 200); do
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then return 0; fi
    kill -0 "$PG_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# stop_postgres [fast|immediate]: stops the postmaster (it can be started
# again with pg_launch: a "PostgreSQL restart" test).
stop_postgres() {
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m "${1:-fast}" -w stop >/dev/null 2>&1
  wait "$PG_PID" 2>/dev/null
}

# psql_q SQL: runs SQL in the test database, unaligned, tuples only.
psql_q() { psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U kofarm -d kofarm -c "$1"; }

# start_server [ENV=VALUE...]: kofarm-server on a free port with the given
# extra environment. Sets SERVER_URL and SERVER_PID; its log is $T/server.log.
start_server() {
  local i
  SERVER_PORT=$(free_port)
  env KOFARM_LISTEN=127.0.0.1:$SERVER_PORT "$@" "$KOFARM_SERVER" >>"$T/server.log" 2>&1 &
  SERVER_PID=$!
  KF_PIDS+=("$SERVER_PID")
  SERVER_URL=http://127.0.0.1:$SERVER_PORT
  for i in $(seq 1 200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/healthz")" = 200 ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "lib.sh: kofarm-server did not start: $(tail -5 "$T/server.log")" >&2
  exit 1
}

# start_worker [ENV=VALUE...]: one kofarm-worker (state in $T/worker-N);
# appends its pid to WORKER_PIDS, log $T/worker-N.log.
WORKER_PIDS=()
start_worker() {
  local n=${#WORKER_PIDS[@]}
  mkdir -p "$T/worker-$n"
  env KOFARM_STATE_DIR="$T/worker-$n" "$@" "$KOFARM_WORKER" >>"$T/worker-$n.log" 2>&1 &
  WORKER_PIDS+=($!)
  KF_PIDS+=($!)
}

# new_token NAME [SCOPE...]: prints a fresh API token (kofarm-server token create).
new_token() {
  local name=$1 s args=()
  shift
  for s in "$@"; do args+=(--scope "$s"); done
  "$KOFARM_SERVER" token create --name "$name" "${args[@]}" | tail -n1
}

# api METHOD PATH [curl args...]: calls the server with $TOKEN (when set);
# sets HTTP_CODE and BODY.
api() {
  local method=$1 path=$2 out
  shift 2
  out=$(curl -s -X "$method" -w '\n%{http_code}' ${TOKEN:+-H "Authorization: Bearer $TOKEN"} \
        "$@" "$SERVER_URL$path")
  HTTP_CODE=${out##*$'\n'}
  BODY=${out%$'\n'*}
}

# ---- jobs in the database (psql_q), for the service tests
# field ID COLUMN_EXPR: one value of job ID.
field() { psql_q "SELECT $2 FROM jobs WHERE id = $1"; }
# wait_done ID SECONDS: waits for a final state; prints it.
wait_done() {
  local i state
  for i in $(seq 1 $(($2 * 10))); do
    state=$(field "$1" state)
    case "$state" in succeeded|failed|canceled) echo "$state"; return 0 ;; esac
    sleep 0.1
  done
  echo "${state:-none} (timed out)"
}
# job_log ID: the job's log lines, "STREAM LINE" each.
job_log() { psql_q "SELECT stream || ' ' || line FROM job_logs WHERE job_id = $1 ORDER BY seq"; }

# go_shim: $T/bin/go, the real go after an optional pause (KF_TEST_SLEEP in a
# job's env reaches go build only), so a test can catch a build running.
# Workers get it with PATH="$T/bin:$PATH".
go_shim() {
  local real
  real=$(command -v go)
  mkdir -p "$T/bin"
  cat >"$T/bin/go" <<EOF
#!/bin/sh
if [ "\$1" = build ] && [ -n "\${KF_TEST_SLEEP:-}" ]; then sleep "\$KF_TEST_SLEEP"; fi
exec $real "\$@"
EOF
  chmod +x "$T/bin/go"
}
