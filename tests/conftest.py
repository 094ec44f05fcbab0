"""Every property test runs without hypothesis's per-example deadline: a time limit is a timed
assert, and the lab's VMs share this machine's cores (speed belongs in ./run bench)."""

from hypothesis import settings

settings.register_profile("kubeprep", deadline=None)
settings.load_profile("kubeprep")
