#!/usr/bin/env bash
# Build, offline, the OCI images kubeadm and flannel pull from build-go.sh's binaries and push them
# into the lab's registry storage, $KUBEPREP_LAB_CACHE/k8s/registry (lab/lib/serve.sh serves it).
#
#   lab/k8s-build/images.sh VERSION     e.g. lab/k8s-build/images.sh 1.36.3
#
# Names: `kubeadm config images list` of the BUILT kubeadm with the tags the lab's data sets (etcd
# <built etcd>-0, dns v<built coredns>; ./versions) + ghcr.io/flannel-io/flannel:v<flanneld> +
# registry.k8s.io/e2e-test-images/agnhost:<its VERSION> (for the lab's pods), stored
# without the registry host, as a mirror is asked (/v2/kube-apiserver/manifests/v1.36.3, ...).
# One layer with the static binary: kube-apiserver, -controller-manager, -scheduler, etcd (and
# etcdctl, as registry.k8s.io's) at /usr/local/bin/NAME (+ /etc/passwd, /tmp); coredns/coredns /coredns, user 0 (it binds :53); pause
# /pause, user 65535:65535. On a Debian base (mmdebstrap essential + iptables-nft + nftables, made
# once into k8s/base/<recipe>/): kube-proxy /usr/local/bin/kube-proxy, flannel-io/flannel
# /opt/bin/flanneld, agnhost /agnhost. An image stored with the same recipe (label: a hash of this script, its binary,
# the base) is kept. Pushes go through a temporary docker-registry on 127.0.0.1, replaced blobs are
# garbage-collected, and images-vVERSION.txt in the storage gets the full names. Needs root and
# lab/setup-host's packages.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# -eq 1 && $1 =~ ^1\.[0-9]+\.[0-9]+$ ]] || { sed -n '5p' "$0" >&2; exit 2; }
version=$1 minor=${1%.*}
cache=${KUBEPREP_LAB_CACHE:-$HOME/.cache/kubeprep-lab}/k8s
bin=$cache/bin/v$version registry=$cache/registry
companion() { awk -v m="$minor" -v n="$1" '$1 == m && $2 == n {print $3; exit}' "$here/versions"; }
say() { echo "images v$version: $*"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
[ -f "$bin/.kubeadm.done" ] || { say "no kubeadm in $bin: run build-go.sh $version" >&2; exit 1; }
mkdir -p "$registry" && exec 9>"$registry/.lock" && flock 9  # one writer at a time (see the gc)
cleanup() { [ -z "${regpid:-}" ] || kill "$regpid" 2>/dev/null || true; wait; rm -rf "$work"; }
work=$(mktemp -d); trap cleanup EXIT
rm -f "$registry/images-v$version.txt"

# The names: kubeadm's list with the two tags the data overrides, and kubeadm's defaults beside.
cat > "$work/kubeadm.yaml" <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v$version
etcd: {local: {imageTag: "$(companion etcd)-0"}}
dns: {imageTag: "v$(companion coredns)"}
EOF
mapfile -t images < <("$bin/kubeadm" config images list --config "$work/kubeadm.yaml")
mapfile -t defaults < <("$bin/kubeadm" config images list --kubernetes-version "v$version")
images+=("ghcr.io/flannel-io/flannel:v$(companion flanneld)") defaults+=(-)
# agnhost, for the lab's pods, under the name and tag Kubernetes' e2e tests use (its VERSION file)
agnhost=$(cat "$cache/go/mod/k8s.io/kubernetes@v$version/test/images/agnhost/VERSION")
images+=("registry.k8s.io/e2e-test-images/agnhost:$agnhost") defaults+=(-)

spec() {  # REPOSITORY: sets src (binary), dest (its path in the image), user, on_base (yes/no)
    user='' on_base=no also=''  # also: another binary beside it in /usr/local/bin
    case $1 in
        kube-apiserver|kube-controller-manager|kube-scheduler) src=$1 dest=/usr/local/bin/$1 ;;
        etcd) src=etcd dest=/usr/local/bin/etcd also=etcdctl ;;
        kube-proxy) src=$1 dest=/usr/local/bin/$1 on_base=yes ;;
        coredns/coredns) src=coredns dest=/coredns user=0 ;;
        pause) src=pause dest=/pause user=65535:65535 ;;
        flannel-io/flannel) src=flanneld dest=/opt/bin/flanneld on_base=yes ;;
        e2e-test-images/agnhost) src=agnhost dest=/agnhost on_base=yes ;;
        *) say "no recipe for image $1" >&2; exit 1 ;;
    esac
}

# The base of kube-proxy and flannel: sh, cp, iptables (-> iptables-nft), nft; no docs.
# The merged-usr hooks give usr-is-merged; else apt picks usrmerge, which pulls in 47 MB of perl.
# shellcheck disable=SC2016,SC2054  # $1 is mmdebstrap's (the tree); commas are its lists
base_args=(--variant=essential --include=iptables,nftables
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
    --dpkgopt='path-exclude=/usr/share/info/*'
    --customize-hook='chroot "$1" update-alternatives --set iptables /usr/sbin/iptables-nft'
    --customize-hook='chroot "$1" update-alternatives --set ip6tables /usr/sbin/ip6tables-nft'
    --skip=output/dev bookworm)
base_key=$(printf '%s\n' "${base_args[@]}" "${KUBEPREP_LAB_MIRROR:-}" | sha256sum | cut -c1-16)
base=$cache/base/$base_key
base_build() {
    [ -f "$base/rootfs.tar" ] && return
    local t0=$EPOCHREALTIME
    say "base $base_key: mmdebstrap bookworm (essential + iptables, nftables) ..."
    rm -rf "$base.tmp"; mkdir -p "$base.tmp"
    # shellcheck disable=SC2086  # KUBEPREP_LAB_MIRROR: mirror argument(s), as in lab/image/build.sh
    mmdebstrap --quiet "${base_args[@]}" "$base.tmp/rootfs.tar" ${KUBEPREP_LAB_MIRROR:-} \
        2> "$base.tmp/mmdebstrap.log" || { tail -20 "$base.tmp/mmdebstrap.log" >&2; exit 1; }
    mv "$base.tmp" "$base"
    find "$cache/base" -mindepth 1 -maxdepth 1 ! -name "$base_key" -exec rm -rf {} +  # old recipes
    say "base $base_key built in $(since "$t0") s ($(du -sh "$base/rootfs.tar" | cut -f1))"
}

# A temporary registry over the storage, on a free port of 127.0.0.1.
reg=127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
echo "{version: 0.1, log: {level: warn}, http: {addr: '$reg'}, storage: {delete: {enabled: true},
  filesystem: {rootdirectory: '$registry'}}}" > "$work/registry.yml"
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 & regpid=$!
for _ in $(seq 100); do curl -fs "http://$reg/v2/" >/dev/null && break; sleep 0.1; done
curl -fs "http://$reg/v2/" >/dev/null || { cat "$work/registry.log" >&2; exit 1; }

umoci init --layout "$work/oci"
pushed=0 missing=()
for i in "${!images[@]}"; do
    image=${images[$i]} t0=$EPOCHREALTIME; path=${image#*/}
    spec "${path%:*}"; oci=$work/oci:$src
    note=; [[ ${defaults[$i]} = "$image" || ${defaults[$i]} = - ]] \
        || note=" (kubeadm's default: ${defaults[$i]##*:})"
    if [ ! -f "$bin/.$src.done" ] || { [ -n "$also" ] && [ ! -f "$bin/.$also.done" ]; }; then
        say "$image$note: MISSING $bin/$src $also"; missing+=("$src"); continue
    fi
    recipe=$({ cat "$0"; echo "$path $dest $user $on_base"; sha256sum < "$bin/$src"
               [ -z "$also" ] || sha256sum < "$bin/$also"
               [ $on_base = no ] || echo "$base_key"; } | sha256sum | cut -c1-16)
    have=$(skopeo inspect --tls-verify=false "docker://$reg/$path" 2>/dev/null \
           | jq -r '.Labels["org.kubeprep.lab.recipe"] // empty' || true)
    if [ "$have" = "$recipe" ]; then say "$image$note: stored ($recipe)"; continue; fi
    umoci new --image "$oci"
    if [ $on_base = yes ]; then
        base_build
        umoci raw add-layer --image "$oci" --history.created_by "mmdebstrap ${base_args[*]}" \
            "$base/rootfs.tar"
    fi
    # the binary's layer: parent directories, root-owned, fixed times (+ passwd, group, /tmp)
    layer=$work/$src; mkdir -p "$layer$(dirname "$dest")"
    install -m 755 "$bin/$src" "$layer$dest"
    [ -z "$also" ] || install -m 755 "$bin/$also" "$layer/usr/local/bin/$also"
    if [ $on_base = no ] && [ "$src" != pause ]; then
        mkdir -p "$layer/etc" && install -d -m 1777 "$layer/tmp"
        printf '%s\n' root:x:0:0:root:/root:/sbin/nologin \
            nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin > "$layer/etc/passwd"
        printf '%s\n' root:x:0: nogroup:x:65534: > "$layer/etc/group"
    fi
    (cd "$layer" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
        -cf "$layer.tar" -- *)
    umoci raw add-layer --image "$oci" --history.created_by "images.sh: $dest" "$layer.tar"
    umoci config --image "$oci" --no-history --os linux --architecture amd64 \
        --config.env PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.entrypoint "$dest" \
        ${user:+--config.user "$user"} --config.label "org.kubeprep.lab.recipe=$recipe"
    skopeo copy --quiet --dest-tls-verify=false "oci:$oci" "docker://$reg/$path"
    pushed=$((pushed + 1))
    say "$image$note: pushed in $(since "$t0") s ($recipe)"
done

kill "$regpid"; wait "$regpid" || true; regpid=
if [ $pushed -gt 0 ]; then  # drop what the new images replaced (untagged manifests, their blobs)
    t0=$EPOCHREALTIME
    docker-registry garbage-collect --delete-untagged "$work/registry.yml" > "$work/gc.log" 2>&1 \
        || { cat "$work/gc.log" >&2; exit 1; }
    say "garbage collection in $(since "$t0") s"
fi
if [ ${#missing[@]} -gt 0 ]; then
    say "not built yet: ${missing[*]} (run build-go.sh $version)" >&2; exit 1
fi
printf '%s\n' "${images[@]}" > "$registry/images-v$version.txt"
say "$registry: $(du -sh "$registry" | cut -f1), names in images-v$version.txt"
