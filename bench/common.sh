# Shared by the benchmarks (source it): the test helpers for a private
# registry, a temp dir and clean-up (tests/integration/lib.sh), plus timing
# and table helpers. Times are kept in microseconds.
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"

# buildah refuses a DOCKER_CONFIG directory without a config.json.
echo '{"auths":{}}' >"$DOCKER_CONFIG/config.json"

die() { echo "bench: $*" >&2; exit 1; }

need_tools() {
  local t
  for t in "$@"; do
    if [ "$t" = kofarm ]; then
      [ -x "$KOFARM" ] || die "no kofarm at $KOFARM (scripts/build.sh, or set KOFARM)"
    else
      command -v "$t" >/dev/null || die "$t is missing (scripts/deps.sh installs it)"
    fi
  done
}

now_ns() { date +%s%N; }

# median US... : the median (mean of the two middle values for an even count).
median() {
  printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {
    if (NR == 0) { print 0; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "n/a"}'; }

# print_row LABEL US... : label, count, median, min, max (ms).
print_row() {
  local label=$1
  shift
  local sorted
  sorted=$(printf '%s\n' "$@" | sort -n)
  printf '%-34s %6d %10s %10s %10s\n' "$label" "$#" "$(ms "$(median "$@")")" \
    "$(ms "$(head -1 <<<"$sorted")")" "$(ms "$(tail -1 <<<"$sorted")")"
}

# build_example_binary OUT PLATFORM : the example server, static and stripped.
build_example_binary() {
  local out=$1 platform=$2 os arch variant=""
  os=${platform%%/*}
  arch=${platform#*/}
  if [[ "$arch" == */* ]]; then variant=${arch#*/}; arch=${arch%%/*}; fi
  (cd "$FIXTURE" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=${variant#v} \
    go build -trimpath -ldflags='-s -w' -o "$out" ./cmd/server) || die "go build failed"
}

verify_pushed() { skopeo inspect --raw --tls-verify=false "docker://$1" >/dev/null 2>&1; }
