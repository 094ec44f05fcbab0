"""Benchmark the deploy on the lab: converge, no-change re-run and the SSH floor, 1 and 3 hosts.

Prints figures, asserts nothing. Each host count starts from pristine VMs (`lab/lab reset`).

    ./run bench                   # or: .venv/bin/python bench/bench.py
    ./run bench --until ready     # only the node-preparation tasks (deploy_until = "ready")
    ./run bench --hosts 3         # only the 3-host figures

Per host it counts the remote commands and the firewall-cmd processes they start (each starts
Python: seconds on a small VM). The first converge is also shown without its package
installation (the "Install ..." operations, timed from pyinfra's --debug log as it streams).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from kubeprep.keys import DEPLOY_STAGES

ROOT = Path(__file__).resolve().parent.parent
PYINFRA = [str(ROOT / ".venv/bin/pyinfra"), "lab/inventory.py"]
LIMITS = {1: ["--limit", "cp1"], 3: []}
COMMAND_LINE = re.compile(r"Running command on (\S+): (.*)")
OPERATION_START = re.compile(r"""Starting operation \{['"](?:[^|]*\| )?(.+?)['"]\} on (\S+)""")
PACKAGE_OPERATION = re.compile(r"^Install ")
PREPARE = "(connect and prepare)"
# firewall-cmd run as a command; the zone facts' `--list-all` fallback only runs where busctl
# fails, and `command -v firewall-cmd` starts nothing.
FIREWALL_CMD = re.compile(r'(?<![\w-])firewall-cmd --(?!zone="\$zone" --list-all)')


@dataclass
class Timing:
    seconds: float
    commands: Counter  # remote commands per host
    firewall_cmd: Counter  # firewall-cmd processes per host
    phases: dict[str, float]  # seconds: preparing (connect, facts), then each operation

    @property
    def packages(self) -> float:
        """Seconds spent in package-installation operations."""
        return sum(seconds for name, seconds in self.phases.items()
                   if PACKAGE_OPERATION.match(name))


def timed(args: list[str]) -> Timing:
    """Run pyinfra with --debug, timestamping each line of its log as it arrives."""
    start = time.monotonic()
    process = subprocess.Popen(
        [*PYINFRA, *args, "-y", "--debug"], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    lines: list[tuple[float, str]] = [(time.monotonic(), line) for line in process.stdout or []]
    process.wait()
    end = time.monotonic()
    if process.returncode != 0:
        tail = "".join(line for _, line in lines[-60:])
        sys.exit(f"pyinfra {' '.join(args)} failed:\n{tail}")
    commands, firewall_cmd = Counter(), Counter()
    for _, line in lines:
        if match := COMMAND_LINE.search(line):
            commands[match[1]] += 1
            firewall_cmd[match[1]] += len(FIREWALL_CMD.findall(match[2]))
    return Timing(end - start, commands, firewall_cmd, _phases(lines, start, end))


def _phases(lines: list[tuple[float, str]], start: float, end: float) -> dict[str, float]:
    """Seconds per phase: until the first operation starts (connecting, reading the facts the
    deploy branches on), then per operation: pyinfra runs one operation on every host before
    the next starts, so an operation lasts from its first start to the next operation's."""
    starts: list[tuple[float, str]] = []
    for moment, line in lines:
        match = OPERATION_START.search(line)
        if match and (not starts or starts[-1][1] != match[1]):
            starts.append((moment, match[1]))
    if not starts:  # `exec -- true` logs no operation start
        return {}
    phases = {PREPARE: starts[0][0] - start}
    ends = [moment for moment, _ in starts[1:]] + [end]
    for (begin, name), stop in zip(starts, ends, strict=True):
        phases[name] = phases.get(name, 0.0) + stop - begin
    return phases


def lab(*args: str) -> None:
    subprocess.run([str(ROOT / "lab/lab"), *args], cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--until", choices=DEPLOY_STAGES, default="kubernetes",
                        help="deploy_until for the runs (default: kubernetes, before the cluster)")
    parser.add_argument("--hosts", type=int, choices=sorted(LIMITS), action="append",
                        help="only this many hosts (repeatable; default: 1 and 3)")
    arguments = parser.parse_args()
    until = arguments.until
    data = ["--data", f"deploy_until={until}"]
    lab("kube")  # the lab's Kubernetes packages and images, built or reused
    rows = []
    for hosts, limit in LIMITS.items():
        if arguments.hosts and hosts not in arguments.hosts:
            continue
        lab("reset")
        floor = timed([*limit, "exec", "--", "true"])
        converge = timed([*limit, *data, "deploy.py"])
        rerun = timed([*limit, *data, "deploy.py"])
        rows.append((hosts, floor.seconds, converge, rerun))
    print(f"\ndeploy_until = {until}")

    print("\n| hosts | floor `exec -- true` | first converge | converge without package "
          "installation | no-change re-run |")
    print("|---|---|---|---|---|")
    for hosts, floor, converge, rerun in rows:
        rest = converge.seconds - converge.packages
        print(f"| {hosts} | {floor:.1f} s | {converge.seconds:.1f} s "
              f"({converge.seconds / floor:.1f}x) | {rest:.1f} s ({rest / floor:.1f}x; "
              f"packages {converge.packages:.1f} s) | {rerun.seconds:.1f} s "
              f"({rerun.seconds / floor:.1f}x) |")
    print("\n| hosts | remote commands per host (converge / re-run) "
          "| firewall-cmd processes per host (converge / re-run) |")
    print("|---|---|---|")
    for hosts, _, converge, rerun in rows:
        commands = ", ".join(f"{host} {converge.commands[host]}/{rerun.commands[host]}"
                             for host in sorted(converge.commands))
        firewall = ", ".join(f"{host} {converge.firewall_cmd[host]}/{rerun.firewall_cmd[host]}"
                             for host in sorted(converge.commands))
        print(f"| {hosts} | {commands} | {firewall} |")
    _, _, converge, rerun = rows[-1]
    for label, timing in (("first converge", converge), ("no-change re-run", rerun)):
        slowest = sorted(timing.phases.items(), key=lambda item: -item[1])[:8]
        print(f"\nWhere the {label} of {rows[-1][0]} hosts goes: "
              + "; ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest))
    if len(rows) > 1:
        one, three = rows[0], rows[-1]
        print(f"\n3 hosts vs 1 host: converge {three[2].seconds / one[2].seconds:.2f}x, "
              f"re-run {three[3].seconds / one[3].seconds:.2f}x, floor "
              f"{three[1] / one[1]:.2f}x")


if __name__ == "__main__":
    main()
