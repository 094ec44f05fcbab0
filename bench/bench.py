"""Benchmark the deploy on the lab: converge, no-change re-run and the SSH floor, 1 and 3 hosts.

Prints figures, asserts nothing. Each host count starts from pristine VMs (`lab/lab reset`).

    ./run bench                   # or: .venv/bin/python bench/bench.py
    ./run bench --until ready     # only the node-preparation tasks (deploy_until = "ready")
    ./run bench --hosts 3         # only the 3-host figures
    ./run bench --cluster         # 3 nodes to every node Ready, per task (bench/cluster_bench.py)
    ./run bench --cluster --upgrade   # then the upgrade to the lab's next minor, per node

Per host it counts the remote commands and the firewall-cmd processes they start (each starts
Python: seconds on a small VM). The first converge is also shown without its package
installation (the "Install ..." operations, timed from pyinfra's --debug log as it streams).
"""

from __future__ import annotations

import argparse

from cluster_bench import cluster_bench
from timing import lab, timed

from kubeprep.keys import DEPLOY_STAGES

LIMITS = {1: ["--limit", "cp1"], 3: []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--until", choices=DEPLOY_STAGES, default="kubernetes",
                        help="deploy_until for the runs (default: kubernetes, before the cluster)")
    parser.add_argument("--hosts", type=int, choices=sorted(LIMITS), action="append",
                        help="only this many hosts (repeatable; default: 1 and 3)")
    parser.add_argument("--cluster", action="store_true",
                        help="instead: 3 pristine nodes to every node Ready, per task")
    parser.add_argument("--upgrade", action="store_true",
                        help="with --cluster: then the upgrade to the lab's next minor")
    arguments = parser.parse_args()
    if arguments.cluster:
        cluster_bench(arguments.upgrade)
        return
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
