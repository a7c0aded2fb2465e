#!/usr/bin/env bash
# Benchmark: layer compression alone. The example server (as containerize.sh
# builds it: static, -trimpath, stripped; and once more unstripped) deflated
# in the gzip layout (1 MiB chunks primed with the 32 KiB before them) by
# zlib's level 1 (memLevel 9, what lib/gzip.c used) and by kf_deflate
# (lib/deflate.c, level 1 now), single-threaded, each output inflated back
# and compared. Then kf_deflate's wall time by chunk size on 1 and 2 threads.
# Prints MB/s, sizes and their ratios. Not a test: nothing about time is
# asserted.
#   bench/deflate.sh [ROUNDS]      (default 15)
#
# Measured on the 2-core AMD EPYC build machine (shared with other jobs,
# so +-5%), go1.19.8 example server, 15 rounds, medians:
#   stripped   4,460,544 B: zlib ~80 MB/s 2,106,800 B; kf_deflate ~240 MB/s
#                           2,139,064 B: ~3.0x the speed, +1.5% bytes
#   unstripped 6,454,166 B: zlib ~71 MB/s 3,847,616 B; kf_deflate ~272 MB/s
#                           3,885,231 B: ~3.8x the speed, +1.0% bytes
# One thread, 256 / 512 / 1024 KiB chunks: 19.9 / 19.5 / 19.0 ms (stripped).
set -uo pipefail
ROUNDS=${1:-15}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"

DRIVER=${KF_BUILD_DIR:-$HERE/../build}/bench/kofarm-bench-deflate
need_tools go
[ -x "$DRIVER" ] || die "no $DRIVER (scripts/build.sh builds it)"

build_example_binary "$T/server" linux/amd64
(cd "$FIXTURE" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o "$T/server.unstripped" ./cmd/server) ||
  die "go build failed"

for bin in server server.unstripped; do
  echo "== $bin ($(stat -c %s "$T/$bin") bytes)"
  "$DRIVER" "$T/$bin" "$ROUNDS" || die "the driver failed on $bin"
  echo
done
