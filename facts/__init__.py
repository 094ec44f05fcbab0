"""Custom pyinfra facts for what pyinfra cannot read, one concern each (NodeReadiness composes
them into the readiness check's one read)."""
