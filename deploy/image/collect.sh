#!/bin/sh
# Collects what the image's runtime stage takes, under DEST:
#   DEST/app   the server binary (without symbols), cargo-leptos' hash.txt
#              and the precompressed site
#   DEST/data  an empty directory for the data volume
#   DEST/var   /var/lib, empty, so that the image's /var stays root's
#   DEST/root  the shared libraries the binary loads (glibc, libm, libgcc_s
#              and the dynamic loader), at their paths, from the system that
#              built it: the image needs no other base.
# Used by the Dockerfile's build stage and by scripts/lib.sh (build_image).
#
# Usage: deploy/image/collect.sh SERVER_BINARY SITE_DIR DEST
set -eu
bin=$1 site=$2 dest=$3
mkdir -p "$dest/app" "$dest/data" "$dest/root" "$dest/var/lib"
strip -o "$dest/app/strongroom-server" "$bin"
cp "$(dirname "$bin")/hash.txt" "$dest/app/hash.txt"
cp -r "$site" "$dest/app/site"
# ldd: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and the
# loader as "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vDSO has no file.
ldd "$bin" | awk '$2 == "=>" { print $3 } $1 ~ /^\// { print $1 }' | while read -r lib; do
  cp -L --parents "$lib" "$dest/root/"
done
