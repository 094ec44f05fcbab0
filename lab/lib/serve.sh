# shellcheck shell=bash
# The lab's "site services", as an air-gapped site has them, inside the lab network namespace on
# $LAB_CLIENT (the VMs reach them over the bridge, nothing else does):
#   registry  docker-registry on :5000 over $CACHE_ROOT/k8s/registry (read-only): a pull mirror
#             for registry.k8s.io and ghcr.io, filled by lab/k8s-build/images.sh
#   repo      python3 -m http.server on :8099 over $CACHE_ROOT/k8s/repo: the apt repositories
#             laid out like pkgs.k8s.io, made by lab/k8s-repo/build.sh
# Each one starts only if its directory exists; pid files and logs in $STATE_DIR (serve-NAME.*).

REGISTRY_DIR=$CACHE_ROOT/k8s/registry
REPO_DIR=$CACHE_ROOT/k8s/repo
REGISTRY_ADDR=$LAB_CLIENT:5000
REPO_ADDR=$LAB_CLIENT:8099

serve_pid() {  # NAME: prints the pid of the server NAME (registry, repo) if it runs
    local f=$STATE_DIR/serve-$1.pid pid what=http.server
    [ "$1" = registry ] && what="docker-registry serve"
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] \
        && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$what" && echo "$pid"
}

# serve_start NAME URL CMD...: CMD in the lab namespace, detached; returns once URL answers.
serve_start() {
    local name=$1 url=$2 pid i
    shift 2
    if pid=$(serve_pid "$name"); then
        log "$name already serving (pid $pid)"
        return 0
    fi
    # ip netns exec and setsid exec (no fork): $! is the server itself
    ip netns exec "$NETNS" setsid "$@" >"$STATE_DIR/serve-$name.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$STATE_DIR/serve-$name.pid"
    for i in $(seq 100); do
        ip netns exec "$NETNS" curl -fsS -o /dev/null "$url" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || die "$name exited (see $STATE_DIR/serve-$name.log)"
        if [ "$i" -eq 100 ]; then
            kill "$pid"
            die "$name does not answer $url after 10 s, stopped (see $STATE_DIR/serve-$name.log)"
        fi
        sleep 0.1
    done
    serve_pid "$name" >/dev/null || die "$name: pid $pid is not the server (see serve-$name.log)"
    log "$name serving $url (pid $pid)"
}

serve_up() {
    mkdir -p "$STATE_DIR"
    if [ -d "$REGISTRY_DIR" ]; then
        cat >"$STATE_DIR/serve-registry.yml" <<EOF
version: 0.1
log: {level: info, formatter: text}
storage:
  filesystem: {rootdirectory: "$REGISTRY_DIR"}
  maintenance: {readonly: {enabled: true}, uploadpurging: {enabled: false}}
http: {addr: "$REGISTRY_ADDR"}
EOF
        serve_start registry "http://$REGISTRY_ADDR/v2/" \
            docker-registry serve "$STATE_DIR/serve-registry.yml"
    else
        log "no $REGISTRY_DIR (lab/lab kube makes it): no registry"
    fi
    if [ -d "$REPO_DIR" ]; then
        serve_start repo "http://$REPO_ADDR/" \
            python3 -m http.server --bind "$LAB_CLIENT" "${REPO_ADDR##*:}" -d "$REPO_DIR"
    else
        log "no $REPO_DIR (lab/lab kube makes it): no apt repository server"
    fi
}

serve_down() {
    local name pid
    for name in registry repo; do
        if pid=$(serve_pid "$name"); then
            stop_pid "$pid" 50
            log "$name stopped (pid $pid)"
        fi
        rm -f "$STATE_DIR/serve-$name.pid"
    done
}

serve_status() {
    local name pid addr
    for name in registry repo; do
        addr=$REGISTRY_ADDR; [ "$name" = repo ] && addr=$REPO_ADDR
        pid=$(serve_pid "$name" || echo -)
        printf 'serve %-8s %-8s http://%s\n' "$name" "$pid" "$addr"
    done
}

# Build what the services serve, for every version in lab/k8s-build/kubernetes-versions: the Go
# binaries, then the apt repositories (all versions in one call), then the images.
cmd_kube() {
    local list=$LAB_DIR/k8s-build/kubernetes-versions versions v t0
    mapfile -t versions < <(grep -v '^[[:space:]]*#' "$list" | awk NF)
    [ ${#versions[@]} -gt 0 ] || die "no versions in $list"
    export KUBEPREP_LAB_CACHE=$CACHE_ROOT
    t0=$(now)
    for v in "${versions[@]}"; do
        "$LAB_DIR/k8s-build/build-go.sh" "$v"
    done
    "$LAB_DIR/k8s-repo/build.sh" "$REPO_DIR" "${versions[@]}"
    for v in "${versions[@]}"; do
        "$LAB_DIR/k8s-build/images.sh" "$v"
    done
    log "kube: ${versions[*]} ready after $(since "$t0") s; lab/lab up serves them"
}
