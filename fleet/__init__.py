"""The pyinfra side of kubeprep: per-host data checks, node addresses, the fleet-wide readiness run.

The one place that talks to pyinfra's hosts and state; ``kubeprep/`` stays plain Python.
"""
