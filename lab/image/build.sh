#!/bin/bash
# Build the lab's Debian 12 base image into OUT_DIR (lab/lab picks
# $KUBEPREP_LAB_CACHE/<recipe hash>/). Everything under lab/image/ plus
# lab/repo-packages.txt is "the recipe": changing any of it changes the hash.
#
# OUT_DIR/ base.raw (ext4, whole disk), vmlinuz, initrd.img,
#          id_ed25519{,.pub} (root login key), manifest.txt
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

ssh-keygen -q -t ed25519 -N '' -C kubeprep-lab -f "$tmp/id_ed25519"

export LAB_IMAGE_DIR=$here
export LAB_REPO_PACKAGES=$here/../repo-packages.txt
export LAB_PUBKEY=$tmp/id_ed25519.pub
LAB_ROOT_UUID=$(cat /proc/sys/kernel/random/uuid)
export LAB_ROOT_UUID
export LAB_SWAP_MB=256
pkgs=$(grep -v '^[[:space:]]*#' "$here/packages.txt" | xargs | tr ' ' ',')

# No mirror argument: mmdebstrap uses Debian's default mirror and adds
# bookworm-updates and bookworm-security. KUBEPREP_LAB_MIRROR may name
# other mirror argument(s) (e.g. a sources file).
# shellcheck disable=SC2086
mmdebstrap --variant=apt --include="$pkgs" \
    --setup-hook="$here/hook-setup.sh" \
    --customize-hook="$here/hook-customize.sh" \
    --skip=cleanup/apt/lists \
    bookworm "$tmp/root" ${KUBEPREP_LAB_MIRROR:-}

# SELinux labels for the whole finished tree (mmdebstrap's cleanup rewrites
# /etc/machine-id after the hooks, so label here); setfiles needs /proc.
mount -t proc proc "$tmp/root/proc"
chroot "$tmp/root" setfiles -F -e /proc -e /sys -e /dev \
    /etc/selinux/default/contexts/files/file_contexts / >&2 || { umount "$tmp/root/proc"; exit 1; }
umount "$tmp/root/proc"

cp "$tmp"/root/boot/vmlinuz-* "$tmp/vmlinuz"
cp "$tmp"/root/boot/initrd.img-* "$tmp/initrd.img"
chroot "$tmp/root" dpkg-query -W -f '${Package} ${Version}\n' > "$tmp/manifest.txt"
mkfs.ext4 -q -F -L root -U "$LAB_ROOT_UUID" -d "$tmp/root" "$tmp/base.raw" 6G
rm -rf "$tmp/root"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
