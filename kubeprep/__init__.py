"""Plain Python: data keys and their checks, ports, the readiness checks; no pyinfra, no facts."""
