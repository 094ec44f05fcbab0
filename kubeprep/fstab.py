"""The fstab edits behind `swap.off` and `swap.on`: comment out swap entries and back, touch
nothing else."""

import re

# An active (uncommented) fstab entry whose third field, the filesystem type, is `swap`.
_SWAP_ENTRY = re.compile(r"[ \t]*[^#\s]\S*[ \t]+\S+[ \t]+swap(?:[ \t]|$)")

# Marks the lines kubeprep commented out, so an operator (or a later run) can tell them apart.
COMMENT_PREFIX = "#kubeprep# "


def is_swap_entry(line: str) -> bool:
    """True when ``line`` (without its ``\\n``) is an active swap entry."""
    return bool(_SWAP_ENTRY.match(line.rstrip("\r")))


def comment_swap_entries(text: str) -> str:
    """Return ``text`` with every active swap entry commented out and every other byte unchanged."""
    return "\n".join(
        COMMENT_PREFIX + line if is_swap_entry(line) else line for line in text.split("\n")
    )


def swap_entries(text: str) -> list[str]:
    """The active swap entries of an fstab, in order."""
    return [line for line in text.split("\n") if is_swap_entry(line)]


def is_kubeprep_comment(line: str) -> bool:
    """True when ``line`` is an entry kubeprep commented out (it starts with the prefix)."""
    return line.startswith(COMMENT_PREFIX)


def uncomment_kubeprep_entries(text: str) -> str:
    """Undo ``comment_swap_entries``: drop the prefix from the lines that start with it, only."""
    return "\n".join(
        line[len(COMMENT_PREFIX):] if is_kubeprep_comment(line) else line
        for line in text.split("\n")
    )
