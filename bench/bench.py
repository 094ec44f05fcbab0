"""Benchmark the deploy on the lab: converge, no-change re-run and the SSH floor, 1 and 3 hosts.

Prints figures, asserts nothing. Each host count starts from pristine VMs (`lab/lab reset`).

    ./run bench                   # or: .venv/bin/python bench/bench.py
    ./run bench --until ready     # only the node-preparation tasks (deploy_until = "ready")

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
# firewall-cmd run as a command; the zone facts' `--list-all` fallback only runs where busctl
# fails, and `command -v firewall-cmd` starts nothing.
FIREWALL_CMD = re.compile(r'(?<![\w-])firewall-cmd --(?!zone="\$zone" --list-all)')


@dataclass
class Timing:
    seconds: float
    commands: Counter  # remote commands per host
    firewall_cmd: Counter  # firewall-cmd processes per host
    packages: float  # seconds spent in package-installation operations


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
    return Timing(end - start, commands, firewall_cmd, _package_seconds(lines, end))


def _package_seconds(lines: list[tuple[float, str]], end: float) -> float:
    """Time spent in package operations: pyinfra runs one operation on every host before the
    next starts, so an operation lasts from its first start to the next operation's."""
    starts: list[tuple[float, str]] = []
    for moment, line in lines:
        match = OPERATION_START.search(line)
        if match and (not starts or starts[-1][1] != match[1]):
            starts.append((moment, match[1]))
    if not starts:  # `exec -- true` logs no operation start
        return 0.0
    ends = [moment for moment, _ in starts[1:]] + [end]
    return sum(stop - begin for (begin, name), stop in zip(starts, ends, strict=True)
               if PACKAGE_OPERATION.match(name))


def lab(*args: str) -> None:
    subprocess.run([str(ROOT / "lab/lab"), *args], cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--until", choices=DEPLOY_STAGES,
                        help="deploy_until for the runs (default: the lab inventory's)")
    until = parser.parse_args().until
    data = ["--data", f"deploy_until={until}"] if until else []
    rows = []
    for hosts, limit in LIMITS.items():
        lab("reset")
        floor = timed([*limit, "exec", "--", "true"])
        converge = timed([*limit, *data, "deploy.py"])
        rerun = timed([*limit, *data, "deploy.py"])
        rows.append((hosts, floor.seconds, converge, rerun))
    print(f"\ndeploy_until = {until or 'as the lab inventory sets it (runtime)'}")

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
    one, three = rows[0], rows[-1]
    print(f"\n3 hosts vs 1 host: converge {three[2].seconds / one[2].seconds:.2f}x, "
          f"re-run {three[3].seconds / one[3].seconds:.2f}x")


if __name__ == "__main__":
    main()
