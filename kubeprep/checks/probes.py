"""Reachability probes: a short-lived listener on a target, connections from a source, and
how their output reads. Running them is kubeprep.fleet.readiness's job. Pure Python, no pyinfra.
"""

from __future__ import annotations

import re
import shlex

CONNECT_SECONDS = 5
_ADDRESS = re.compile(r"^[A-Za-z0-9.:_-]+$")

# A listener that accepts and closes every connection on the given ports; it binds what it can.
_LISTENER = (
    "import select,socket,sys\n"
    "ss=[]\n"
    "for a in sys.argv[1:]:\n"
    " s=socket.socket()\n"
    " s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    " try:\n"
    "  s.bind(('0.0.0.0',int(a)));s.listen(64);ss.append(s)\n"
    " except OSError:\n"
    "  s.close()\n"
    "while ss:\n"
    " for s in select.select(ss,[],[])[0]:\n"
    "  try:\n"
    "   s.accept()[0].close()\n"
    "  except OSError:\n"
    "   pass\n"
)


def listener_command(python: str, ports: list[int], seconds: int) -> str:
    """Start a listener on ``ports`` for at most ``seconds``, in the background, detached from
    the SSH session; wait until it listens; print ``pid N`` and one ``bound PORT`` per port.
    Nothing is written on the host."""
    hexes = " ".join(f"{port:04X}" for port in ports)
    return (
        f"timeout {int(seconds)} {shlex.quote(python)} -c {shlex.quote(_LISTENER)} "
        f"{' '.join(str(int(port)) for port in ports)} </dev/null >/dev/null 2>&1 & "
        "pid=$!; n=0; while [ $n -lt 40 ]; do all=1; "
        f"for h in {hexes}; do "
        'grep -q ":$h 00000000:0000 0A" /proc/net/tcp || all=0; done; '
        '[ $all = 1 ] && break; sleep 0.1; n=$((n+1)); done; echo "pid $pid"; '
        f"for h in {hexes}; do "
        'grep -q ":$h 00000000:0000 0A" /proc/net/tcp && echo "bound $h"; done; true'
    )


def parse_listener(lines: list[str]) -> tuple[int | None, set[int]]:
    pid, bound = None, set()
    for line in lines:
        key, _, value = line.strip().partition(" ")
        if key == "pid" and value.isdigit():
            pid = int(value)
        elif key == "bound":
            try:
                bound.add(int(value, 16))
            except ValueError:
                continue
    return pid, bound


def stop_command(pid: int) -> str:
    """Stop the listener (timeout passes the signal to python); it was bounded anyway."""
    return f"kill {int(pid)} 2>/dev/null; true"


def probe_command(targets: list[tuple[str, int]]) -> str:
    """Connect to each address:port from this node, one after the other, each bounded to
    CONNECT_SECONDS; print ``probe ADDRESS PORT RC MESSAGE``."""
    for address, _ in targets:
        if not _ADDRESS.match(address):
            raise ValueError(f"not an address: {address!r}")
    pairs = " ".join(f"{address}/{int(port)}" for address, port in targets)
    return (
        f"for t in {pairs}; do "
        f"m=$(timeout {CONNECT_SECONDS} bash -c \"exec 3<>/dev/tcp/$t\" 2>&1); rc=$?; "
        'echo "probe ${t%/*} ${t##*/} $rc" $m; done; true'
    )


def parse_probes(lines: list[str]) -> dict[tuple[str, int], tuple[int, str]]:
    found = {}
    for line in lines:
        fields = line.strip().split(" ", 4)
        if len(fields) >= 4 and fields[0] == "probe" and fields[2].isdigit() \
                and fields[3].lstrip("-").isdigit():
            found[(fields[1], int(fields[2]))] = (int(fields[3]), fields[4] if len(fields) > 4
                                                  else "")
    return found


def classify_probe(rc: int, message: str) -> tuple[str, str]:
    """(result, detail) of one ``timeout 5 bash -c 'exec 3<>/dev/tcp/A/P'``."""
    if rc == 0:
        return "open", "connected"
    if "refused" in message.lower():
        return "refused", "connection refused (TCP reset: nothing listens, or a reject rule)"
    if rc == 124:
        return "filtered", f"no answer in {CONNECT_SECONDS} s (packets dropped)"
    if "no route to host" in message.lower():
        return "filtered", "rejected (ICMP host-prohibited: a firewall reject rule)"
    if rc == 127:
        return "not checked", "no bash or timeout on the source node"
    return "filtered", message.strip() or f"failed (rc {rc})"


def prefixed(prefix: str, command: str) -> str:
    """``command`` run through ``prefix`` (an outside host's probe_prefix, e.g.
    ``ip netns exec kubeprep-lab``): ``PREFIX sh -c 'COMMAND'``; the command alone without one.
    Raises ValueError for a prefix that is not shell words."""
    words = shlex.split(prefix)
    if not words:
        return command
    return f"{shlex.join(words)} sh -c {shlex.quote(command)}"
