"""The readiness check (check.py) in pure Python: facts of every node (+ its data, + the fleet)
in, results out. No pyinfra, no ``kubeprep.facts`` imports: the checks take the fact's dict.

- ``model``: levels, columns, NodeSpec, Node, Path, PathResult, Report
- ``node``: one small function per node check, and their registry ``NODE_CHECKS``
- ``firewall``: the firewall node checks (zones, ports, sources, protocols; exposure; other
  firewalls)
- ``software``: the container runtime and the Kubernetes packages (node and fleet checks)
- ``fleet``: uniqueness across nodes, the reachability paths, ``evaluate``
- ``probes``: listener and probe commands and how their output reads
"""
