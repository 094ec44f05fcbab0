"""Plain-Python helpers shared by kubeprep's tasks, facts and operations (no remote calls)."""
