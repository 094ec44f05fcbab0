#!/bin/sh
# mmdebstrap --setup-hook: runs before any package is installed.
# The initramfs config must be there before linux-image builds the initrd.
set -eu
root=$1
files=$LAB_IMAGE_DIR/files
install -D -m 0644 "$files/initramfs-lab.conf" "$root/etc/initramfs-tools/conf.d/kubeprep-lab"
install -D -m 0755 "$files/initramfs-lab-hook" "$root/etc/initramfs-tools/hooks/kubeprep-lab"
