"""The error kubeprep raises for a host it cannot act on; a module of its own so that what
raises it (the settings, the firewall rules) does not import the whole settings layer."""


class DataError(ValueError):
    """A host's data or platform is not something kubeprep can act on."""
