"""Benchmark the deploy on the lab: converge, no-change re-run and the SSH floor, 1 and 3 hosts.

Prints figures, asserts nothing. Each host count starts from pristine VMs (`lab/lab reset`).

    ./run bench            # or: .venv/bin/python bench/bench.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYINFRA = [str(ROOT / ".venv/bin/pyinfra"), "lab/inventory.py"]
LIMITS = {1: ["--limit", "cp1"], 3: []}
COMMAND_LINE = re.compile(r"Running command on (\S+):")


def timed(args: list[str]) -> tuple[float, Counter, str]:
    """Run pyinfra with --debug; return seconds, remote commands per host and the output."""
    start = time.monotonic()
    result = subprocess.run(
        [*PYINFRA, *args, "-y", "--debug"], cwd=ROOT, capture_output=True, text=True,
    )
    seconds = time.monotonic() - start
    output = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"pyinfra {' '.join(args)} failed:\n{output[-3000:]}")
    commands = Counter(match.group(1) for match in COMMAND_LINE.finditer(output))
    return seconds, commands, output


def lab(*args: str) -> None:
    subprocess.run([str(ROOT / "lab/lab"), *args], cwd=ROOT, check=True)


def main() -> None:
    rows = []
    for hosts, limit in LIMITS.items():
        lab("reset")
        floor, _, _ = timed([*limit, "exec", "--", "true"])
        converge, converge_cmds, _ = timed([*limit, "deploy.py"])
        rerun, rerun_cmds, _ = timed([*limit, "deploy.py"])
        rows.append((hosts, floor, converge, rerun, converge_cmds, rerun_cmds))

    print("\n| hosts | floor `exec -- true` | first converge | no-change re-run "
          "| remote commands per host (converge / re-run) |")
    print("|---|---|---|---|---|")
    for hosts, floor, converge, rerun, converge_cmds, rerun_cmds in rows:
        per_host = ", ".join(
            f"{host} {converge_cmds[host]}/{rerun_cmds[host]}" for host in sorted(converge_cmds)
        )
        print(f"| {hosts} | {floor:.1f} s | {converge:.1f} s ({converge / floor:.1f}x) "
              f"| {rerun:.1f} s ({rerun / floor:.1f}x) | {per_host} |")
    one, three = rows[0], rows[-1]
    print(f"\n3 hosts vs 1 host: converge {three[2] / one[2]:.2f}x, "
          f"re-run {three[3] / one[3]:.2f}x")


if __name__ == "__main__":
    main()
