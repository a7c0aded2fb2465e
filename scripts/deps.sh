#!/usr/bin/env bash
# Installs the Debian packages kofarm needs to build, test, run and benchmark,
# only when one is missing (one dpkg-query call when everything is there).
set -euo pipefail

PACKAGES=(
  # build
  cmake make gcc pkg-config
  libmicrohttpd-dev libjansson-dev libyaml-dev libarchive-dev libpq-dev
  libcriterion-dev libcurl4-openssl-dev libssl-dev zlib1g-dev
  # what the engine drives, and the base image's contents
  golang-go git ca-certificates tzdata
  # tests: registry, independent image clients, foreign binaries, auth, database
  docker-registry skopeo umoci buildah qemu-user apache2-utils postgresql
  tar gzip jq curl python3
  # the web page's browser test (playwright-core comes from npm into the build dir)
  chromium nodejs
  # benchmarks
  hyperfine wrk
)

# One dpkg-query call; ${db:Status-Status} is "installed" only for a fully
# installed package, and a package dpkg never heard of prints no line at all.
declare -A installed=()
while read -r name status; do
  [ "$status" = installed ] && installed[${name%%:*}]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)

missing=()
for p in "${PACKAGES[@]}"; do
  [ -n "${installed[$p]:-}" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >&2
