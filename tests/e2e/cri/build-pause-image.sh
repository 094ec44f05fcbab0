#!/bin/sh
# Build an offline pod sandbox ("pause") image: Debian's static catatonit, run as `catatonit -P`
# (it only reaps and waits, like the pause binary), in an OCI image made with umoci.
#
#   build-pause-image.sh OUT.tar [CATATONIT] [TAG]
#
# OUT.tar is an OCI image layout whose image is tagged TAG (default 3.10). Import it under a full
# name (CRI prefixes a name without a registry host with docker.io/ and tries to pull it):
#
#   ctr -n k8s.io images import --base-name localhost/pause OUT.tar   # -> localhost/pause:3.10
#
# Needs umoci (Debian: umoci) and catatonit (Debian: catatonit, /usr/bin/catatonit).
set -eu
out=$1
catatonit=${2:-/usr/bin/catatonit}
tag=${3:-3.10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

umoci init --layout "$work/layout"
umoci new --image "$work/layout:$tag"
umoci unpack --rootless --image "$work/layout:$tag" "$work/bundle"
install -m 755 "$catatonit" "$work/bundle/rootfs/catatonit"
umoci repack --image "$work/layout:$tag" "$work/bundle"
umoci config --image "$work/layout:$tag" --config.entrypoint /catatonit --config.cmd -P \
    --config.user 65535:65535 --architecture amd64 --os linux
umoci gc --layout "$work/layout"
tar -C "$work/layout" -cf "$out" .
