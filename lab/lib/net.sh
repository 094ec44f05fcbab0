# shellcheck shell=bash
# The lab L2 network: a bridge inside our own network namespace. No uplink,
# no address in the root namespace, no route out of the namespace.

net_up() {
    if ! ip netns list | grep -qw "^$NETNS"; then
        ip netns add "$NETNS"
    fi
    ip -n "$NETNS" link set lo up
    ip netns exec "$NETNS" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
    if ! ip -n "$NETNS" link show "$BRIDGE" >/dev/null 2>&1; then
        ip -n "$NETNS" link add "$BRIDGE" type bridge stp_state 0 forward_delay 0
        # first address = primary = source of `ip netns exec kubeprep-lab ...`
        ip -n "$NETNS" addr add "$LAB_CLIENT/24" dev "$BRIDGE"
        ip -n "$NETNS" addr add "$LAB_GW/24" dev "$BRIDGE"
    fi
    ip -n "$NETNS" link set "$BRIDGE" up
}

# qemu (in the root namespace, where the SSH port forward must listen) creates
# the tap; we then move it into the namespace and onto the bridge.
net_attach() {
    local tap=$1
    ip link set "$tap" netns "$NETNS"
    ip -n "$NETNS" link set "$tap" master "$BRIDGE" up
}

net_down() {
    local n
    for n in "${ALL_NODES[@]}"; do
        ip -n "$NETNS" link del "kpl-$n" 2>/dev/null || true
        ip link del "kpl-$n" 2>/dev/null || true
    done
    if ip netns list | grep -qw "^$NETNS"; then
        ip netns del "$NETNS"
    fi
}
