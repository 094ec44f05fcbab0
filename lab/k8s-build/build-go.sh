#!/usr/bin/env bash
# Build Kubernetes and its companions from Go modules, on the lab host, cached per version.
#
#   lab/k8s-build/build-go.sh VERSION     e.g. lab/k8s-build/build-go.sh 1.36.3
#
# Writes $KUBEPREP_LAB_CACHE/k8s/bin/vVERSION/ (kubeadm, kubelet, kubectl, kube-apiserver,
# kube-controller-manager, kube-scheduler, kube-proxy, agnhost, etcd, etcdctl, crictl, coredns, flanneld, the CNI
# plugins, pause) and prints each component's progress and time. A component already built with
# this script's recipe is reused (a warm run takes seconds); the Go module and build caches live
# beside it, so a second version reuses both. Companion versions come from lab/k8s-build/versions.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 1 ] && [[ $1 =~ ^1\.[0-9]+\.[0-9]+$ ]] || { sed -n '4p' "$0" >&2; exit 2; }
version=$1 minor=${1%.*}
cache=${KUBEPREP_LAB_CACHE:-$HOME/.cache/kubeprep-lab}/k8s
out=$cache/bin/v$version
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build
mkdir -p "$out" "$cache/src"

# The companions' versions for this minor: "MINOR NAME VERSION" lines of lab/k8s-build/versions.
companion() { awk -v m="$minor" -v n="$1" '$1 == m && $2 == n {print $3; exit}' "$here/versions"; }
# A component is rebuilt when this script, the versions file or its version change.
recipe=$(cat "$0" "$here/versions" | sha256sum | cut -c1-16)

step() {  # NAME COMMAND...: run COMMAND once per recipe, timed
    local name=$1 stamp="$out/.$1.done" start
    shift
    if [ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ]; then
        echo "k8s-build v$version: $name cached"
        return
    fi
    echo "k8s-build v$version: $name building ..."
    start=$SECONDS
    "$@"
    echo "$recipe" > "$stamp"
    echo "k8s-build v$version: $name built in $((SECONDS - start)) s"
}

# A wrapper module: MODULE@VERSION required, each of its go.mod's local replaces (staging
# modules, etcd's siblings) pointed at the same-numbered released module: REPLACE_VERSION.
wrapper() {  # DIR MODULE VERSION REPLACE_VERSION
    local dir=$1 module=$2 modver=$3 repver=$4 mod
    [ -f "$dir/go.sum" ] && [ "$(cat "$dir/.for" 2>/dev/null)" = "$module@$modver" ] && return
    rm -rf "$dir"; mkdir -p "$dir"
    mod=$(go mod download -json "$module@$modver" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
    (
        cd "$dir"
        go mod init kubeprep.lab/build >/dev/null 2>&1
        go mod edit -go="$(awk '$1 == "go" {print $2; exit}' "$mod")" -require="$module@$modver"
        awk '$1 == "godebug" {print}' "$mod" >> go.mod
        # (not the FORBIDDEN_DEPENDENCY guards etcd's modules put on paths nothing may use)
        awk '$2 == "=>" && $3 ~ /^\.\.?\// && $3 !~ /FORBIDDEN/ {print $1}' "$mod" | while read -r dep; do
            go mod edit -replace="$dep=$dep@$repver"
        done
        printf 'package build\n' > build.go
    )
    echo "$module@$modver" > "$dir/.for"
}

kube_ldflags() {
    local info commit date x=""
    info=$(go mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/^\t"Info": "\(.*\)",$/\1/p')
    date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")
    commit=$(sed -n 's/.*"Hash":"\([0-9a-f]*\)".*/\1/p' "$info")
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        x+=" -X $pkg.gitVersion=v$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor#1.}"
        x+=" -X $pkg.gitCommit=${commit:-0000000000000000000000000000000000000000}"
        x+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=$date"
    done
    echo "-s -w$x"
}

kube() {  # NAME PACKAGE: one binary of k8s.io/kubernetes
    (cd "$cache/src/kubernetes-v$version" \
        && go build -trimpath -tags selinux,notest -ldflags "$(kube_ldflags)" \
            -o "$out/$1" "k8s.io/kubernetes/$2")
}

wrapper "$cache/src/kubernetes-v$version" k8s.io/kubernetes "v$version" "v0.${version#1.}"
for cmd in kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
    step "$cmd" kube "$cmd" "cmd/$cmd"
done
# agnhost: Kubernetes' own test server and client (netexec, connect, ...), for the lab's pods.
step agnhost kube agnhost test/images/agnhost

etcd() {
    local v; v=$(companion etcd)
    wrapper "$cache/src/etcd-v$v" go.etcd.io/etcd/server/v3 "v$v" "v$v"
    (cd "$cache/src/etcd-v$v" && go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
}
step etcd etcd
# etcdctl, which registry.k8s.io's etcd image carries too (kubeprep's snapshot before an upgrade).
etcdctl() {
    local v; v=$(companion etcd)
    wrapper "$cache/src/etcdctl-v$v" go.etcd.io/etcd/etcdctl/v3 "v$v" "v$v"
    (cd "$cache/src/etcdctl-v$v" && go build -trimpath -ldflags "-s -w" -o "$out/etcdctl" go.etcd.io/etcd/etcdctl/v3)
}
step etcdctl etcdctl

plain() {  # NAME MODULE PACKAGE: a module without replaces, built as is
    local v; v=$(companion "$1")
    wrapper "$cache/src/$1-v$v" "$2" "v$v" "v$v"
    (cd "$cache/src/$1-v$v" && go build -trimpath -ldflags "-s -w ${4:-}" -o "$out/$1" "$3")
}
step crictl plain crictl sigs.k8s.io/cri-tools sigs.k8s.io/cri-tools/cmd/crictl \
    "-X sigs.k8s.io/cri-tools/pkg/version.Version=v$(companion crictl)"
step coredns plain coredns github.com/coredns/coredns github.com/coredns/coredns
# flanneld's main.go imports every backend; the Tencent VPC one needs a module the proxy does not
# serve (tencentcloud-sdk-go/tencentcloud/vpc), so main.go is built here without that one import.
# The UDP backend is C (cgo): linked statically, as flannel's Makefile does.
flanneld() {
    local v dir; v=$(companion flanneld); dir=$cache/src/flanneld-v$v
    wrapper "$dir" github.com/flannel-io/flannel "v$v" "v$v"
    mkdir -p "$dir/flanneld"
    grep -v '"github.com/flannel-io/flannel/pkg/backend/tencentvpc"' \
        "$GOMODCACHE/github.com/flannel-io/flannel@v$v/main.go" > "$dir/flanneld/main.go"
    (cd "$dir" && CGO_ENABLED=1 go build -trimpath -tags netgo,osusergo -ldflags "-s -w -extldflags -static \
        -X github.com/flannel-io/flannel/pkg/version.Version=v$v" -o "$out/flanneld" ./flanneld)
}
step flanneld flanneld

cni() {
    local v dir; v=$(companion cni-plugins); dir=$cache/src/cni-plugins-v$v
    wrapper "$dir" github.com/containernetworking/plugins "v$v" "v$v"
    mkdir -p "$out/cni"
    (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$out/cni/" \
        github.com/containernetworking/plugins/plugins/main/{bridge,loopback,host-device,ptp} \
        github.com/containernetworking/plugins/plugins/ipam/host-local \
        github.com/containernetworking/plugins/plugins/meta/{portmap,bandwidth,firewall})
}
step cni-plugins cni

pause() {  # upstream's pause, from the same module zip, static
    gcc -Os -static -Wall -Werror -DVERSION="v$(companion pause)-kubeprep" \
        -o "$out/pause" "$GOMODCACHE/k8s.io/kubernetes@v$version/build/pause/linux/pause.c"
    strip "$out/pause"
}
step pause pause
echo "k8s-build v$version: $out"
