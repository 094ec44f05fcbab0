#!/bin/bash
# mmdebstrap --customize-hook: everything after the base packages are in.
# Runs on the host with the chroot directory as $1 (/proc, /sys, /dev mounted).
set -euo pipefail
root=$1
files=$LAB_IMAGE_DIR/files
in_root() { chroot "$root" "$@"; }
log() { echo "[image] $*" >&2; }

# --- local apt repository: the repo packages + what installing them pulls in
repo_pkgs=$(grep -v '^[[:space:]]*#' "$LAB_REPO_PACKAGES" | xargs)
log "local repo for: $repo_pkgs"
repo=$root/opt/lab-repo
mkdir -p "$repo/partial"
# the VMs' apt installs recommends (mmdebstrap's chroot apt does not)
apt_rec=(-o APT::Install-Recommends=true)
in_root apt-get install -y --download-only "${apt_rec[@]}" \
    -o Dir::Cache::archives=/opt/lab-repo/ $repo_pkgs >&2
rm -rf "$repo/partial" "$repo/lock"

# packages from Debian unstable next to bookworm's, through a private apt config on the host (the
# image's own sources never name unstable)
sid_pkgs=$(grep -v '^[[:space:]]*#' "$LAB_IMAGE_DIR/sid-packages.txt" | xargs)
sid=$(mktemp -d)
mkdir -p "$sid/lists/partial" "$sid/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" \
    > "$sid/sources.list"
sid_apt=(-o "Dir::Etc::sourcelist=$sid/sources.list" -o Dir::Etc::sourceparts=- \
         -o "Dir::State::Lists=$sid/lists" -o "Dir::Cache=$sid" -o Dir::Cache::pkgcache= \
         -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root)
apt-get "${sid_apt[@]}" update >&2
(cd "$repo" && apt-get "${sid_apt[@]}" download $sid_pkgs >&2)
rm -rf "$sid"
(cd "$repo" && dpkg-scanpackages --multiversion . /dev/null > Packages 2>/dev/null \
    && gzip -9kf Packages && apt-ftparchive release . > Release)
log "local repo: $(ls "$repo"/*.deb | wc -l) packages, $(du -sh "$repo" | cut -f1)"

# dependencies installed, the repo packages themselves not
deps=$(in_root apt-get install -s "${apt_rec[@]}" $repo_pkgs | awk '/^Inst /{print $2}' \
       | grep -vxF -f <(tr ' ' '\n' <<<"$repo_pkgs") || true)
if [ -n "$deps" ]; then
    in_root apt-get install -y "${apt_rec[@]}" $deps >&2
fi

# busybox for the OCI images below, not served (downloaded while the image still has sources)
mkdir -p "$root/tmp/lab-oci/partial"
in_root apt-get install -y --download-only -o Dir::Cache::archives=/tmp/lab-oci/ busybox-static >&2

# the VMs are offline: the local repo is their only source
rm -f "$root"/etc/apt/sources.list.d/*
echo "deb [trusted=yes] file:/opt/lab-repo ./" > "$root/etc/apt/sources.list"
install -m 0644 "$files/lab-containerd.pref" "$root/etc/apt/preferences.d/lab-containerd"
in_root apt-get update >&2
in_root apt-get install -s $repo_pkgs > /dev/null
in_root apt-get install -s $sid_pkgs > /dev/null

# --- an offline OCI image for the runtime tests (imported by them with `ctr images import`): a
# busybox to run in pods, from the Debian package (the pause image comes from the lab's mirror)
oci=$(mktemp -d)
dpkg-deb -x "$root"/tmp/lab-oci/busybox-static_*.deb "$oci/tree"
rm -rf "$root/tmp/lab-oci"
mkdir -p "$root/opt/lab-images"
"$LAB_IMAGE_DIR/build-oci-image.sh" "$root/opt/lab-images/busybox.tar" 1.35 0:0 \
    "$oci/tree/bin/busybox" sleep 86400 >&2
rm -rf "$oci"
log "OCI images: $(ls "$root/opt/lab-images" | xargs)"

# --- identity, login, network
install -m 0644 "$files/hosts" "$root/etc/hosts"
echo debian > "$root/etc/hostname"
# offline: no DNS server answers; the address gives CoreDNS's `forward . /etc/resolv.conf` a
# nameserver to start with (cluster names are its own; other names fail, as they would here)
printf '# offline lab VM: no DNS answers\nnameserver 192.168.77.250\n' > "$root/etc/resolv.conf"
sed "s/@ROOT_UUID@/$LAB_ROOT_UUID/" "$files/fstab" > "$root/etc/fstab"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$LAB_PUBKEY" "$root/root/.ssh/authorized_keys"
install -m 0755 "$files/kubeprep-lab-boot" "$root/usr/local/sbin/kubeprep-lab-boot"
install -m 0644 "$files/kubeprep-lab-boot.service" "$root/etc/systemd/system/kubeprep-lab-boot.service"
in_root systemctl enable kubeprep-lab-boot.service systemd-networkd.service >&2
# e2scrub_reap costs ~15 s of emulated CPU per boot and does nothing here
in_root systemctl disable e2scrub_reap.service >&2

# --- swap file; must not be all zeros (mkfs.ext4 -d would leave holes)
yes kubeprep-lab-swap | head -c $((LAB_SWAP_MB * 1024 * 1024)) > "$root/swapfile" || true
chmod 0600 "$root/swapfile"
mkswap -L swapfile "$root/swapfile" >&2

# --- SELinux: enforcing when the kernel enables it (cp1, security=selinux);
# build.sh labels the finished tree (after mmdebstrap's own cleanup)
sed -i 's/^SELINUX=.*/SELINUX=enforcing/' "$root/etc/selinux/config"
for m in labfirewalld labswapfile; do
    install -m 0644 "$files/$m.cil" "$root/root/$m.cil"
    in_root semodule -i "/root/$m.cil"
    rm -f "$root/root/$m.cil"
done
log "customize done"
