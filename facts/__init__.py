"""Custom pyinfra facts for what pyinfra cannot read, one concern each (NodeReadiness composes
them into the readiness check's one read)."""


def marked_sections(output, first: str) -> list[tuple[str, list[str]]]:
    """A fact's output split at its ``--- NAME`` lines, in order: (NAME, its lines); the lines
    before the first mark go under ``first``. A name may come more than once (one per file)."""
    sections: list[tuple[str, list[str]]] = [(first, [])]
    for line in output:
        if line.startswith("--- "):
            sections.append((line[4:], []))
        else:
            sections[-1][1].append(line)
    return sections
