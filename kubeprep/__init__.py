"""kubeprep, the one package installed: pyinfra facts (``facts``), operations (``operations``)
and per-run host code (``fleet``); beside them plain Python, no pyinfra: data keys and their
checks, ports, configs, the readiness checks."""
