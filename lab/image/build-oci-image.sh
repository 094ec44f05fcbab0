#!/bin/sh
# Build a one-binary OCI image with umoci, offline: a static binary as /NAME, run as USER with ARGS.
#
#   build-oci-image.sh OUT.tar TAG USER BINARY [ARG...]
#
# OUT.tar is an OCI image layout whose image is tagged TAG; the entrypoint is /<basename BINARY>,
# ARGS its command. The lab image carries two (lab/image/hook-customize.sh):
#
#   pause-3.10.tar  Debian's catatonit as `/catatonit -P` (only reaps and waits, like the pause
#                   binary), user 65535 as in the real pause image
#   busybox.tar     Debian's busybox-static as `/busybox sleep 86400`, root (ip, ping, nc inside)
#
# Import one under a full name (CRI prefixes a name without a registry host with docker.io/ and
# tries to pull it):
#
#   ctr -n k8s.io images import --base-name localhost/pause pause-3.10.tar   # localhost/pause:3.10
#
# Needs umoci (Debian: umoci).
set -eu
out=$1 tag=$2 user=$3 binary=$4
shift 4
name=$(basename "$binary")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

umoci init --layout "$work/layout"
umoci new --image "$work/layout:$tag"
umoci unpack --rootless --image "$work/layout:$tag" "$work/bundle"
install -m 755 "$binary" "$work/bundle/rootfs/$name"
umoci repack --image "$work/layout:$tag" "$work/bundle"
n=$#  # each ARG becomes one --config.cmd, spaces and all
while [ "$n" -gt 0 ]; do set -- "$@" --config.cmd "$1"; shift; n=$((n - 1)); done
umoci config --image "$work/layout:$tag" --config.entrypoint "/$name" "$@" \
    --config.user "$user" --architecture amd64 --os linux
umoci gc --layout "$work/layout"
tar -C "$work/layout" -cf "$out" .
