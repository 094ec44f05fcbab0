"""The fstab lines ``swap.off`` and ``swap.on`` edit: the active swap entries, and the entries
kubeprep commented out."""

import re

# An active (uncommented) fstab entry whose third field, the filesystem type, is `swap`.
_SWAP_ENTRY = re.compile(r"[ \t]*[^#\s]\S*[ \t]+\S+[ \t]+swap(?:[ \t]|$)")

# Marks the lines kubeprep commented out, so an operator (or a later run) can tell them apart.
COMMENT_PREFIX = "#kubeprep# "


def is_swap_entry(line: str) -> bool:
    """True when ``line`` (without its ``\\n``) is an active swap entry."""
    return bool(_SWAP_ENTRY.match(line.rstrip("\r")))


def is_kubeprep_comment(line: str) -> bool:
    """True when ``line`` is an entry kubeprep commented out (it starts with the prefix)."""
    return line.startswith(COMMENT_PREFIX)
