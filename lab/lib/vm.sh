# shellcheck shell=bash
# The VMs: qemu processes with pidfiles, qcow2 overlays and console logs in
# lab/.state/.

W1_SWAP_MB=128

accel_args() {
    local want=${KUBEPREP_LAB_ACCEL:-}
    if [ -z "$want" ]; then
        # PVM's /dev/kvm (kvm_pvm) cannot run a stock Debian kernel: use TCG.
        if [ -c /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] \
            && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
            want=kvm
        else
            want=tcg
        fi
    fi
    case "$want" in
        kvm) echo "-accel kvm -cpu host" ;;
        tcg) echo "-accel tcg,thread=multi,tb-size=256 -cpu ${KUBEPREP_LAB_CPU:-max}" ;;
        *) die "KUBEPREP_LAB_ACCEL must be kvm or tcg" ;;
    esac
}

vm_pid() {  # prints the pid of NODE's qemu if it runs
    local f=$STATE_DIR/$1.pid pid
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] \
        && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "qemu-system.*-name $1," \
        && echo "$pid"
}

# A fresh machine: new overlay on the base image (and, for w1, a new swap disk).
vm_prepare_disks() {
    local img=$1 ov=$STATE_DIR/$N_NAME.qcow2 swapdisk=$STATE_DIR/$N_NAME-swap.raw
    rm -f "$ov" "$swapdisk"
    qemu-img create -q -f qcow2 -F raw -b "$img/base.raw" "$ov"
    if [[ $N_EXTRA == *swapdisk* ]]; then
        truncate -s "${W1_SWAP_MB}M" "$swapdisk"
        mkswap -q -U "$(cat /proc/sys/kernel/random/uuid)" "$swapdisk" >/dev/null
    fi
}

vm_start() {  # IMAGE NODE [keep]: "keep" boots the node's existing disks, as a power-on does
    local img=$1 append disks=() extra_ip
    node_load "$2"
    if [ "${3:-}" != keep ] || [ ! -f "$STATE_DIR/$N_NAME.qcow2" ]; then
        vm_prepare_disks "$img"
    fi
    extra_ip=${N_IP##*.}
    append="root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=5 quiet"
    append+=" lab.hostname=$N_NAME lab.ip=$N_IP/24 lab.gw=$LAB_GW"
    if [[ $N_EXTRA == *selinux* ]]; then
        # the mode (enforcing/permissive) comes from /etc/selinux/config
        append+=" security=selinux selinux=1"
    fi
    # shellcheck disable=SC2054  # commas belong to qemu's option syntax
    disks=(-drive "if=none,id=disk0,file=$STATE_DIR/$N_NAME.qcow2,format=qcow2,discard=unmap"
           -device virtio-blk-pci,drive=disk0,addr=0x5)
    if [[ $N_EXTRA == *swapdisk* ]]; then
        append+=" lab.swap=UUID=$(blkid -s UUID -o value "$STATE_DIR/$N_NAME-swap.raw")"
        # shellcheck disable=SC2054
        disks+=(-drive "if=none,id=disk1,file=$STATE_DIR/$N_NAME-swap.raw,format=raw"
                -device virtio-blk-pci,drive=disk1,addr=0x6)
    fi
    rm -f "$STATE_DIR/$N_NAME.pid"
    # shellcheck disable=SC2046
    qemu-system-x86_64 -name "$N_NAME,process=kpl-$N_NAME" \
        -machine q35 $(accel_args) -smp "$N_CPUS" -m "$N_MEM" \
        -uuid "4b7ab000-0000-4000-8000-00000000000$N_IDX" \
        -nodefaults -display none -vga none \
        -serial "file:$STATE_DIR/$N_NAME.console.log" \
        -pidfile "$STATE_DIR/$N_NAME.pid" -daemonize \
        -kernel "$img/vmlinuz" -initrd "$img/initrd.img" -append "$append" \
        "${disks[@]}" \
        -object rng-random,id=rng0,filename=/dev/urandom -device virtio-rng-pci,rng=rng0,addr=0x7 \
        -netdev "user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:$N_PORT-:22" \
        -device "virtio-net-pci,netdev=mgmt,mac=52:54:00:4b:00:0$N_IDX,addr=0x3" \
        -netdev "tap,id=lab,ifname=kpl-$N_NAME,script=no,downscript=no" \
        -device "virtio-net-pci,netdev=lab,mac=52:54:00:4b:77:$(printf %02x "$extra_ip"),addr=0x4"
    net_attach "kpl-$N_NAME"
    log "$N_NAME started (pid $(cat "$STATE_DIR/$N_NAME.pid"), ssh 127.0.0.1:$N_PORT, lab $N_IP)"
}

cmd_up() {
    local img t0 n started=()
    cmd_build
    img=$(image_dir)
    mkdir -p "$STATE_DIR"
    install -m 0600 "$img/id_ed25519" "$LAB_KEY"
    install -m 0644 "$img/id_ed25519.pub" "$LAB_KEY.pub"
    echo "$img" > "$STATE_DIR/image"
    net_up
    t0=$(now)
    for n in "${ALL_NODES[@]}"; do
        if vm_pid "$n" >/dev/null; then
            log "$n already running"
        else
            vm_start "$img" "$n"
            started+=("$n")
        fi
    done
    wait_ssh "${KUBEPREP_LAB_BOOT_TIMEOUT:-420}" "${ALL_NODES[@]}"
    log "up: ${#started[@]} VM(s) booted, all answer SSH after $(since "$t0") s"
    serve_up
}

cmd_down() {
    local n pid
    for n in "${ALL_NODES[@]}"; do
        if pid=$(vm_pid "$n"); then
            stop_pid "$pid" 100
            log "$n stopped (pid $pid)"
        fi
        rm -f "$STATE_DIR/$n.pid"
    done
    serve_down
    net_down
}

# Pull the plug: SIGKILL, no shutdown, whatever was not on disk is lost.
cmd_poweroff() {
    local n pid
    for n in "$@"; do
        node_load "$n"
        pid=$(vm_pid "$n") || die "$n is not running"
        kill -9 "$pid"
        while [ -d "/proc/$pid" ]; do sleep 0.1; done
        rm -f "$STATE_DIR/$n.pid"
        log "$n powered off (pid $pid killed)"
    done
}

# Power on with the disks as they were left (up would give fresh ones).
cmd_poweron() {
    local n t0 img
    img=$(cat "$STATE_DIR/image")
    t0=$(now)
    for n in "$@"; do
        vm_pid "$n" >/dev/null && die "$n is already running"
        vm_start "$img" "$n" keep
    done
    wait_ssh "${KUBEPREP_LAB_BOOT_TIMEOUT:-420}" "$@"
    log "poweron: $* answer SSH after $(since "$t0") s"
}

# Every thread of the nodes' qemu at nice N, until it restarts (poweron). Under TCG the VMs share
# the host's cores: with the workers at 19 the control plane on cp1 gets the CPU first.
cmd_nice() {
    local level=$1 n pid task
    shift
    for n in "$@"; do
        node_load "$n"
        pid=$(vm_pid "$n") || die "$n is not running"
        for task in /proc/"$pid"/task/*; do
            renice -n "$level" -p "${task##*/}" >/dev/null
        done
        log "$n: every thread of qemu (pid $pid) at nice $level"
    done
}

# up gives every VM it starts a fresh overlay, so reset = down + up.
cmd_reset() {
    cmd_down
    cmd_up
}

cmd_reboot() {
    local n t0 ids=()
    t0=$(now)
    for n in "$@"; do
        node_load "$n"
        ids+=("$(node_ssh "$n" cat /proc/sys/kernel/random/boot_id)")
        node_ssh "$n" systemctl reboot </dev/null || true
    done
    # wait until each node answers with a new boot id
    local i=0 id deadline=$(( $(date +%s) + ${KUBEPREP_LAB_BOOT_TIMEOUT:-420} ))
    for n in "$@"; do
        while :; do
            id=$(node_ssh "$n" -o ConnectTimeout=5 cat /proc/sys/kernel/random/boot_id 2>/dev/null </dev/null || true)
            [ -n "$id" ] && [ "$id" != "${ids[$i]}" ] && break
            [ "$(date +%s)" -lt "$deadline" ] || die "$n did not come back after reboot"
            sleep 2
        done
        log "$n rebooted, answers SSH after $(since "$t0") s"
        i=$((i + 1))
    done
}

cmd_status() {
    local n pid ssh_state
    printf '%-4s %-8s %-16s %-14s %s\n' NODE PID SSH LAB_IP STATE
    for n in "${ALL_NODES[@]}"; do
        node_load "$n"
        pid=$(vm_pid "$n" || echo -)
        ssh_state=down
        if [ "$pid" != - ] && node_ssh "$n" -o ConnectTimeout=3 true 2>/dev/null </dev/null; then
            ssh_state=up
        fi
        printf '%-4s %-8s %-16s %-14s %s\n' "$n" "$pid" "127.0.0.1:$N_PORT" "$N_IP" "ssh $ssh_state"
    done
    if ip netns list | grep -qw "^$NETNS"; then
        echo "netns $NETNS: $(ip -n "$NETNS" -br addr show "$BRIDGE" 2>/dev/null)"
    else
        echo "netns $NETNS: absent"
    fi
    serve_status
    echo "image: $(image_dir)$([ -f "$(image_dir)/base.raw" ] || echo ' (not built)')"
}
