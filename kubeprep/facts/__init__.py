"""Custom pyinfra facts for what pyinfra cannot read, one concern each (NodeReadiness composes
them into the readiness check's one read), and the readers their outputs share."""

from __future__ import annotations

from collections.abc import Collection, Iterable

# The prefix a fact puts before each line of a file it prints, so that no line of the file reads
# as a mark; printed_file() reads the file back.
FILE_LINE = "|"


def marked_sections(
    output: Iterable[str], first: str, kinds: Collection[str] | None = None, mark: str = "--- ",
) -> list[tuple[str, list[str]]]:
    """A fact's output split at its ``--- NAME`` lines, in order: (NAME, its lines); the lines
    before the first mark go under ``first``. A name may come more than once (one per file).

    + kinds: only the marks whose NAME's first word is one of these split (``service kubelet``
      for ``service``); the others stay lines of their section. Every mark when omitted.
    + mark: what starts a mark line, ``--- `` unless told
    """
    sections: list[tuple[str, list[str]]] = [(first, [])]
    for line in output:
        name = line[len(mark):] if line.startswith(mark) else None
        if name is not None and (kinds is None or name.split(" ", 1)[0] in kinds):
            sections.append((name, []))
        else:
            sections[-1][1].append(line)
    return sections


def printed_file(lines: list[str]) -> str | None:
    """A file printed behind ``FILE_LINE``, byte for byte; None when nothing was printed. An
    ``echo`` after the file ends a last line that has no newline, so one line more than the file
    has means that its last line had one."""
    content = [line[len(FILE_LINE):] for line in lines if line.startswith(FILE_LINE)]
    if not lines:
        return None
    ends_with_newline = bool(content) and len(lines) > len(content)
    return "\n".join(content) + ("\n" if ends_with_newline else "")


def parse_settings_lines(lines: list[str]) -> dict[str, str]:
    """``name=value`` lines (``active=active``, ``zone=public``) as a dict."""
    return dict(line.split("=", 1) for line in lines if "=" in line)
