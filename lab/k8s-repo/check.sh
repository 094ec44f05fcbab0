#!/usr/bin/env bash
# Prove a repository made by build.sh is what apt reads from pkgs.k8s.io, without a chroot:
# gpgv checks InRelease against Release.key, then apt-get update and apt-cache read it with
# their own state directories (the host's apt configuration is not touched).
#
#   lab/k8s-repo/check.sh OUT MINOR     e.g. lab/k8s-repo/check.sh /srv/k8s 1.37
set -euo pipefail

[ $# -eq 2 ] || { sed -n '5p' "$0" >&2; exit 2; }
repo="$(realpath "$1")/core:/stable:/v$2/deb"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

gpg --batch --quiet --dearmor < "$repo/Release.key" > "$work/key.gpg"
gpgv --keyring "$work/key.gpg" "$repo/InRelease"
gpgv --keyring "$work/key.gpg" "$repo/Release.gpg" "$repo/Release"

cp "$repo/Release.key" "$work/kubernetes.asc"
echo "deb [signed-by=$work/kubernetes.asc] file:$repo/ /" > "$work/sources.list"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
          -o "Dir::State::lists=$work/lists" -o "Dir::Cache=$work/cache"
          -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
apt-get "${apt_opts[@]}" update
apt-cache "${apt_opts[@]}" policy kubeadm kubelet kubectl
apt-cache "${apt_opts[@]}" show kubectl | grep -E '^(Package|Version|Description)'
