"""What the benches share: pyinfra on the lab's inventory, timed from its --debug log as it
streams (per operation, per task), and the lab's own commands."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYINFRA = [str(ROOT / ".venv/bin/pyinfra"), "lab/inventory.py"]
COMMAND_LINE = re.compile(r"Running command on (\S+): (.*)")
# the task (the deploy's name: "Kubernetes cluster") and the operation's own name
OPERATION_START = re.compile(r"""Starting operation \{['"](?:([^|]*?) \| )?(.+?)['"]\} on (\S+)""")
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
    tasks: dict[str, float]  # seconds: preparing, then each task's operations together

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
    return Timing(end - start, commands, firewall_cmd, *_phases(lines, start, end))


def _phases(lines: list[tuple[float, str]], start: float,
            end: float) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per phase: until the first operation starts (connecting, reading the facts the
    deploy branches on), then per operation and per task: pyinfra runs one operation on every
    host before the next starts, so an operation lasts from its first start to the next
    operation's."""
    starts: list[tuple[float, str, str]] = []
    for moment, line in lines:
        match = OPERATION_START.search(line)
        if match and (not starts or starts[-1][2] != match[2]):
            starts.append((moment, match[1] or "", match[2]))
    if not starts:  # `exec -- true` logs no operation start
        return {}, {}
    phases = {PREPARE: starts[0][0] - start}
    tasks = dict(phases)
    ends = [moment for moment, _, _ in starts[1:]] + [end]
    for (begin, task, name), stop in zip(starts, ends, strict=True):
        phases[name] = phases.get(name, 0.0) + stop - begin
        tasks[task] = tasks.get(task, 0.0) + stop - begin
    return phases, tasks


def lab(*args: str) -> None:
    subprocess.run([str(ROOT / "lab/lab"), *args], cwd=ROOT, check=True)


