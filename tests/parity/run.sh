#!/usr/bin/env bash
# Byte-for-byte parity of kofarm's layer tars with Go's archive/tar writing
# ko's headers (tests/parity/main.go), on a sample binary and kodata tree.
# Needs a built engine: KF_BUILD_DIR names the CMake build directory holding
# libkfengine.a (default: build, relative to the repository root). Needs go,
# cc, pkg-config and gzip; works offline. Exits non-zero on any difference.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${KF_BUILD_DIR:-build}
[[ $build = /* ]] || build=$src/$build
lib=$build/libkfengine.a
if [[ ! -f $lib ]]; then
    echo "parity: $lib not found: build first (cmake --build $build) or set KF_BUILD_DIR" >&2
    exit 2
fi

work=$(mktemp -d /tmp/kf-parity-XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "parity: building the Go reference and the C driver"
(cd "$here" && GOCACHE="${KF_PARITY_GOCACHE:-$work/gocache}" GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=0 \
    go build -o "$work/parity" .)
# shellcheck disable=SC2046
cc -std=c17 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$src/lib" "$here/kf_parity_dump.c" "$lib" \
    $(pkg-config --libs libmicrohttpd jansson yaml-0.1 libarchive libpq libcurl openssl zlib) -lpthread \
    -o "$work/dump"

# The sample kodata tree, inside a git worktree so in-repo links are allowed.
repo=$work/repo
kd=$repo/cmd/app/kodata
mkdir -p "$repo/.git" "$kd/b/nested" "$kd/empty"
echo "license" > "$repo/LICENSE"
echo "outside the repo" > "$work/outside.txt"
printf 'hi from kodata\n' > "$kd/greeting.txt"
printf 'A' > "$kd/Z"
: > "$kd/a.txt"
printf 'space' > "$kd/a b"
printf 'utf8' > "$kd/é.txt"
head -c 512 /dev/urandom > "$kd/b/block.bin"
head -c 513 /dev/urandom > "$kd/b/nested/c.bin"
head -c $((1024 * 1024 + 1)) /dev/urandom > "$kd/big.bin"
ln -s greeting.txt "$kd/link-file"
ln -s link-file "$kd/link-chain"
ln -s b "$kd/link-dir"
ln -s ../../greeting.txt "$kd/b/nested/up-link"
ln -s ../../../LICENSE "$kd/license"
d60=$(printf 'd%.0s' {1..60}); e60=$(printf 'e%.0s' {1..60}); f90=$(printf 'f%.0s' {1..90})
mkdir -p "$kd/$d60/$e60/$f90"
echo "split into a USTAR prefix" > "$kd/$d60/$e60/short.txt"
echo "needs a PAX path record" > "$kd/$d60/$e60/$f90/a-long-file-name-past-the-suffix.txt"

cases=0
# run LABEL APP_PATH KODATA_DIR [VAR=VALUE...]: both writers must succeed and agree.
run() {
    local label=$1 app=$2 kodata=$3
    shift 3
    local out=$work/out/$label
    mkdir -p "$out/go" "$out/c"
    env "$@" "$work/parity" -binary "$work/parity" -app-path "$app" -kodata "$kodata" \
        -bin-out "$out/go/bin.tar" -kodata-out "$out/go/kodata.tar"
    env "$@" "$work/dump" "$work/parity" "$app" "$kodata" "$out/c" > "$out/c/diff_ids"
    for layer in bin kodata; do
        if ! cmp "$out/go/$layer.tar" "$out/c/$layer.tar"; then
            echo "parity: $label: $layer tar differs from Go's" >&2
            exit 1
        fi
        if ! gzip -dc "$out/c/$layer.tar.gz" | cmp - "$out/go/$layer.tar"; then
            echo "parity: $label: $layer blob does not gunzip to Go's tar" >&2
            exit 1
        fi
        local want got
        want=$(sha256sum < "$out/go/$layer.tar" | cut -d' ' -f1)
        got=$(awk -v l="$layer" '$1 == l { print $2 }' "$out/c/diff_ids")
        if [[ $want != "$got" ]]; then
            echo "parity: $label: $layer diff_id $got, want $want" >&2
            exit 1
        fi
    done
    cases=$((cases + 1))
    echo "parity: $label: identical ($(stat -c %s "$out/go/kodata.tar") byte kodata tar)"
}

# refuse LABEL KODATA_DIR [VAR=VALUE...]: both writers must fail.
refuse() {
    local label=$1 kodata=$2
    shift 2
    local out=$work/out/$label
    mkdir -p "$out"
    if env "$@" "$work/parity" -binary "$work/parity" -app-path /ko-app/app -kodata "$kodata" \
        -bin-out "$out/b" -kodata-out "$out/k" 2> "$out/go.err"; then
        echo "parity: $label: Go accepted it" >&2
        exit 1
    fi
    if env "$@" "$work/dump" "$work/parity" /ko-app/app "$kodata" "$out" > /dev/null 2> "$out/c.err"; then
        echo "parity: $label: kofarm accepted it" >&2
        exit 1
    fi
    cases=$((cases + 1))
    echo "parity: $label: refused by both ($(cat "$out/c.err"))"
}

run no-epoch /ko-app/app "$kd" KO_DATA_DATE_EPOCH=
run epoch /ko-app/app "$kd" KO_DATA_DATE_EPOCH=1700000000
run epoch-zero /ko-app/app "$kd" KO_DATA_DATE_EPOCH=0
run epoch-past-octal /ko-app/app "$kd" KO_DATA_DATE_EPOCH=8589934592
run missing-kodata /ko-app/app "$repo/cmd/app/nokodata" KO_DATA_DATE_EPOCH=1700000000
run long-app-path "/ko-app/$(printf 'n%.0s' {1..120})" "$kd" KO_DATA_DATE_EPOCH=
run utf8-app-path "/ko-app/appé" "$kd" KO_DATA_DATE_EPOCH=
run wider-allowed-root /ko-app/app "$kd" KO_DATA_DATE_EPOCH= KO_DATA_PATH_ALLOWED_ROOT="$work"

ln -s ../../../../outside.txt "$kd/escape"
refuse out-of-tree-link "$kd" KO_DATA_DATE_EPOCH=
run allowed-by-env /ko-app/app "$kd" KO_DATA_DATE_EPOCH= KO_DATA_PATH_ALLOWED_ROOT="$work"
rm "$kd/escape"
refuse narrower-env-root "$kd" KO_DATA_DATE_EPOCH= KO_DATA_PATH_ALLOWED_ROOT="$kd/b"
refuse env-root-excludes-license "$repo/cmd/app/kodata" KO_DATA_DATE_EPOCH= KO_DATA_PATH_ALLOWED_ROOT="$repo/cmd"
ln -s missing-target "$kd/dangling"
refuse dangling-link "$kd" KO_DATA_DATE_EPOCH=
rm "$kd/dangling"

echo "parity: all $cases cases agree"
