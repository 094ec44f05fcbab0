"""The pyinfra side of kubeprep that operations and facts cannot say: what lasts one pyinfra run,
per host or for the whole fleet, and commands run from Python while pyinfra executes.

- ``hosts``: each host's data and platform checked once, a host refused, every node's address;
- ``reads``: several facts in one round trip, one read per host shared by the operations;
- ``remote``: one shell command on any host of the run;
- ``readiness``: check.py's fleet-wide half (uniqueness, reachability probes, the report).

The one place that relies on pyinfra internals (its context variables, its global arguments,
failing a host): each module's docstring names those it uses and why. ``kubeprep/`` stays plain
Python.
"""
