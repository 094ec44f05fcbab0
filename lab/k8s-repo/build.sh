#!/usr/bin/env bash
# Package the lab's Kubernetes build (lab/k8s-build/build-go.sh) as pkgs.k8s.io does, in a local
# signed apt repository of the same layout: what an air-gapped site mirrors.
#
#   lab/k8s-repo/build.sh OUT VERSION...     e.g. lab/k8s-repo/build.sh /srv/k8s 1.36.3 1.37.2
#
# For each VERSION (1.N.P) it makes OUT/core:/stable:/v1.N/deb/ with upstream's package names,
# version scheme (1.N.P-1.1) and files, from $KUBEPREP_LAB_CACHE/k8s/bin/vVERSION/:
#   kubeadm          /usr/bin/kubeadm and the kubelet drop-in kubelet.service.d/10-kubeadm.conf
#   kubelet          /usr/bin/kubelet, kubelet.service, /etc/default/kubelet,
#                    /etc/kubernetes/manifests/; enabled and started
#                    on install (it restarts every 10 s until kubeadm writes its config)
#   kubectl          /usr/bin/kubectl
#   cri-tools        /usr/bin/crictl (its own version, lab/k8s-build/versions)
#   kubernetes-cni   /opt/cni/bin/* (the CNI plugins' version)
#   Packages(.gz), Release, InRelease and Release.gpg signed with a throw-away GPG key, and that
#   key as Release.key (ASCII-armoured, like pkgs.k8s.io's).
# The key is made once in OUT/.gnupg and reused, so the repositories of every minor share it, as
# pkgs.k8s.io's do. A minor whose binaries and this script did not change is not packed again.
# Data for the lab: kubernetes_repo_url = "http://<host>:<port>/core:/stable:/v{minor}" (lab/lab up
# serves OUT on 192.168.77.250:8099). Needs: dpkg-deb, apt-ftparchive (apt-utils), gpg (gnupg).
set -euo pipefail

[ $# -ge 2 ] || { sed -n '5p' "$0" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(realpath -m "$1"); shift
bins=${KUBEPREP_LAB_CACHE:-$HOME/.cache/kubeprep-lab}/k8s/bin
mkdir -p "$out"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export GNUPGHOME="$out/.gnupg"
if [ ! -d "$GNUPGHOME" ]; then
    mkdir -m 700 "$GNUPGHOME"
    gpg --batch --quiet --passphrase '' --quick-generate-key \
        "kubeprep lab k8s repo (throw-away) <lab@kubeprep.invalid>" rsa3072 sign never
fi

deb() {  # NAME VERSION DEPENDS DESCRIPTION: $work/NAME (the tree) packed into $repo
    local pkg=$work/$1
    mkdir -p "$pkg/DEBIAN"
    {
        printf 'Package: %s\nVersion: %s-1.1\nArchitecture: amd64\n' "$1" "$2"
        printf 'Maintainer: kubeprep lab <lab@kubeprep.invalid>\nSection: admin\nPriority: optional\n'
        [ -z "$3" ] || printf 'Depends: %s\n' "$3"
        printf 'Homepage: https://kubernetes.io\nDescription: %s\n' "$4"
    } > "$pkg/DEBIAN/control"
    # gzip -1, not dpkg-deb's xz: a 50 MB binary packs in seconds and unpacks fast under TCG.
    dpkg-deb --root-owner-group -Zgzip -z1 --build "$pkg" "$repo/${1}_${2}-1.1_amd64.deb" >/dev/null
}

put() {  # MODE SOURCE DEST (DEST inside the package tree)
    mkdir -p "$(dirname "$3")"
    install -m "$1" "$2" "$3"
}

for version in "$@"; do
    [[ $version =~ ^1\.[0-9]+\.[0-9]+$ ]] || { echo "not 1.N.P: $version" >&2; exit 2; }
    minor=${version%.*} bin=$bins/v$version
    repo="$out/core:/stable:/v$minor/deb"
    [ -f "$bin/.pause.done" ] || { echo "no build of $version: run lab/k8s-build/build-go.sh $version" >&2; exit 1; }
    recipe=$(cat "$0" "$here"/files/* "$bin"/.*.done | sha256sum | cut -c1-16)
    if [ "$(cat "$repo/.recipe" 2>/dev/null)" = "$recipe-$version" ]; then
        echo "k8s-repo v$version: cached $repo"
        continue
    fi
    start=$SECONDS
    rm -rf "$repo" "${work:?}"/*; mkdir -p "$repo"
    companion() { awk -v m="$minor" -v n="$1" '$1 == m && $2 == n {print $3; exit}' "$here/../k8s-build/versions"; }

    put 755 "$bin/kubectl" "$work/kubectl/usr/bin/kubectl"
    deb kubectl "$version" "" "Command-line utility for interacting with a Kubernetes cluster"

    put 755 "$bin/kubelet" "$work/kubelet/usr/bin/kubelet"
    put 644 "$here/files/kubelet.service" "$work/kubelet/usr/lib/systemd/system/kubelet.service"
    put 644 "$here/files/kubelet.default" "$work/kubelet/etc/default/kubelet"
    mkdir -p "$work/kubelet/etc/kubernetes/manifests"  # the static pods' folder, as upstream's
    mkdir -p "$work/kubelet/DEBIAN" && echo /etc/default/kubelet > "$work/kubelet/DEBIAN/conffiles"
    for script in postinst prerm postrm; do
        put 755 "$here/files/kubelet.$script" "$work/kubelet/DEBIAN/$script"
    done
    deb kubelet "$version" "iptables (>= 1.4.21), kubernetes-cni (>= 1.2.0), iproute2, mount, util-linux" \
        "Node agent for Kubernetes clusters"

    put 755 "$bin/kubeadm" "$work/kubeadm/usr/bin/kubeadm"
    put 644 "$here/files/10-kubeadm.conf" \
        "$work/kubeadm/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    deb kubeadm "$version" "cri-tools (>= 1.30.0)" "Command-line utility for administering a Kubernetes cluster"

    put 755 "$bin/crictl" "$work/cri-tools/usr/bin/crictl"
    deb cri-tools "$(companion crictl)" "" "Command-line utility for interacting with a container runtime"

    for plugin in "$bin"/cni/*; do
        put 755 "$plugin" "$work/kubernetes-cni/opt/cni/bin/$(basename "$plugin")"
    done
    deb kubernetes-cni "$(companion cni-plugins)" "" "Binaries required to provision kubernetes container networking"

    # The flat repository (suite "/"), signed.
    (cd "$repo" && apt-ftparchive packages . > Packages && gzip -9kf Packages \
        && apt-ftparchive -o APT::FTPArchive::Release::Origin=kubeprep-lab \
            -o APT::FTPArchive::Release::Label=kubeprep-lab release . > Release)
    gpg --batch --yes --clearsign -o "$repo/InRelease" "$repo/Release"
    gpg --batch --yes --armor --detach-sign -o "$repo/Release.gpg" "$repo/Release"
    gpg --batch --yes --armor --export > "$repo/Release.key"
    echo "$recipe-$version" > "$repo/.recipe"
    echo "k8s-repo v$version: packed in $((SECONDS - start)) s: $repo"
done
