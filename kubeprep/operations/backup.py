"""
The backup kubeprep keeps of a file it edits: the file as it was before kubeprep first changed it.
"""

from __future__ import annotations

from pyinfra.api import StringCommand
from pyinfra.api.command import QuoteString

SUFFIX = ".kubeprep.bak"


def keep_original(path: str) -> StringCommand:
    """Copy ``path`` to ``<path>.kubeprep.bak`` unless that exists, so later edits keep the first
    original; a shell group, to chain with ``&&``."""
    backup = QuoteString(f"{path}{SUFFIX}")
    return StringCommand(
        "{ [ -e", backup, "] || cp -p", QuoteString(path),
        StringCommand(backup, ";", _separator=""), "}",
    )
