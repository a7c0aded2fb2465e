#!/usr/bin/env bash
# Writes the seeded base image's root filesystem as an uncompressed tar with
# deterministic bytes: CA certificates, zoneinfo, passwd/group with nonroot
# (65532), /home/nonroot, /tmp. Same host packages in, same bytes out.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: scripts/mkbase-rootfs.sh OUT.tar" >&2
  exit 2
fi
out=$1
[ "$(id -u)" -eq 0 ] || { echo "mkbase-rootfs.sh: must run as root (files owned by 65532)" >&2; exit 1; }
[ -r /etc/ssl/certs/ca-certificates.crt ] || { echo "mkbase-rootfs.sh: no /etc/ssl/certs/ca-certificates.crt (install ca-certificates)" >&2; exit 1; }
[ -d /usr/share/zoneinfo/Etc ] || { echo "mkbase-rootfs.sh: no /usr/share/zoneinfo (install tzdata)" >&2; exit 1; }

stage=$(mktemp -d "${TMPDIR:-/tmp}/kofarm-rootfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
umask 022

mkdir -p "$stage/etc/ssl/certs" "$stage/usr/share" "$stage/home/nonroot" "$stage/root" "$stage/tmp"
cp /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/ca-certificates.crt"
# zoneinfo without right/ and posix/ (the same zones twice more) and without
# localtime (an absolute link to the host's /etc/localtime).
mkdir "$stage/usr/share/zoneinfo"
for entry in /usr/share/zoneinfo/*; do
  case "${entry##*/}" in right|posix|localtime) continue ;; esac
  cp -a "$entry" "$stage/usr/share/zoneinfo/"
done

cat > "$stage/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat > "$stage/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
GROUP
cat > "$stage/etc/nsswitch.conf" <<'NSS'
passwd:         files
group:          files
shadow:         files
hosts:          files dns
networks:       files
protocols:      files
services:       files
ethers:         files
rpc:            files
NSS

# Fixed owners and modes, whatever the host's umask or copies said.
chown -R -h 0:0 "$stage"
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f -exec chmod 0644 {} +
chmod 0700 "$stage/root" "$stage/home/nonroot"
chmod 1777 "$stage/tmp"
chown 65532:65532 "$stage/home/nonroot"

# GNU format: no atime/ctime, no user/group names with --numeric-owner;
# sorted names and one mtime make the bytes depend on content alone.
tmp_out="$out.tmp.$$"
tar -C "$stage" --create --file "$tmp_out" --format=gnu --sort=name --mtime=@0 \
    --numeric-owner --no-acls --no-selinux --no-xattrs \
    etc home root tmp usr
mv -f "$tmp_out" "$out"
