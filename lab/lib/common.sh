# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the other lib/*.sh and lab/lab
# Paths, the node table and small helpers shared by the lab subcommands.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=$LAB_DIR/.state
CACHE_ROOT=${KUBEPREP_LAB_CACHE:-$HOME/.cache/kubeprep-lab}
PORT_BASE=${KUBEPREP_LAB_PORT_BASE:-2200}
LAB_KEY=$STATE_DIR/id_ed25519

NETNS=kubeprep-lab
BRIDGE=kplbr0
LAB_NET=192.168.77
LAB_GW=$LAB_NET.1          # on the bridge, inside the namespace; routes nowhere
LAB_CLIENT=$LAB_NET.250    # "non-node" client: ip netns exec kubeprep-lab CMD

# name  index  vcpus  mem_mb  lab_ip  extras   (keep in sync with lab/inventory.py)
NODE_TABLE="
cp1 1 2 2048 $LAB_NET.11 selinux
w1  2 1 1536 $LAB_NET.21 swapdisk
w2  3 1 1536 $LAB_NET.22 -
"
ALL_NODES=(cp1 w1 w2)

# node_load NAME: sets N_NAME N_IDX N_CPUS N_MEM N_IP N_EXTRA N_PORT
node_load() {
    local line
    line=$(awk -v n="$1" '$1 == n' <<<"$NODE_TABLE")
    [ -n "$line" ] || die "unknown node '$1' (nodes: ${ALL_NODES[*]})"
    read -r N_NAME N_IDX N_CPUS N_MEM N_IP N_EXTRA <<<"$line"
    N_PORT=$((PORT_BASE + N_IDX))
}

# stop_pid PID TENTHS: SIGTERM, wait up to TENTHS tenths of a second, then SIGKILL.
stop_pid() {
    local pid=$1 i
    kill "$pid"
    for i in $(seq "$2"); do
        [ -d "/proc/$pid" ] || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'lab: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

SSH_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
          -o LogLevel=ERROR -o BatchMode=yes -o IdentitiesOnly=yes)

# node_ssh NAME [ssh options...] [--] CMD...
node_ssh() {
    node_load "$1"; shift
    ssh "${SSH_OPTS[@]}" -i "$LAB_KEY" -p "$N_PORT" root@127.0.0.1 "$@"
}

# wait_ssh TIMEOUT NAME...: until every node runs a command over SSH.
wait_ssh() {
    local timeout=$1; shift
    local t0 pending=("$@") left n
    t0=$(now)
    while [ ${#pending[@]} -gt 0 ]; do
        left=()
        for n in "${pending[@]}"; do
            if node_ssh "$n" -o ConnectTimeout=5 true 2>/dev/null </dev/null; then
                log "$n answers SSH after $(since "$t0") s"
            else
                left+=("$n")
            fi
        done
        pending=("${left[@]}")
        [ ${#pending[@]} -eq 0 ] && break
        if awk -v e="$(since "$t0")" -v t="$timeout" 'BEGIN { exit !(e > t) }'; then
            die "no SSH from ${pending[*]} after ${timeout} s (see $STATE_DIR/<node>.console.log)"
        fi
        sleep 2
    done
}
