"""The distribution's packages on a host: which of some are not installed, and where the host's
package manager would fetch them from (``PackageSources``)."""

from __future__ import annotations

import configparser
import re

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

from kubeprep.facts import FILE_LINE, marked_sections

# apt's one-line sources: `deb [options] URI suite [components]`, deb-src alike.
_ONE_LINE = re.compile(r"\s*deb(?:-src)?\s+(?:\[[^\]]*\]\s*)?(\S+)")
# Transports that fetch over the network (apt's mirror+, tor+ wrap one).
_NETWORK = re.compile(r"(?:[a-z]+\+)?(https?://\S+)")


class PackageSourcesDict(TypedDict):
    missing: list[str]  # the packages asked for that are not installed
    sources: list[list[str]]  # per enabled source, its URLs (any one serves); only when missing


class PackageSources(FactBase[PackageSourcesDict]):
    """
    Returns which of ``packages`` are not installed and, when one is not, the network URLs of
    every enabled package source the host's package manager reads (apt's ``sources.list``,
    ``*.list`` and deb822 ``*.sources``; dnf's ``*.repo``: ``baseurl``, ``mirrorlist``,
    ``metalink``). ``file:`` and ``cdrom:`` sources need no network and are left out.

    + packages: package names, as dpkg or rpm knows them

    .. code:: python

        {"missing": ["firewalld"],
         "sources": [["http://deb.debian.org/debian"], ["https://mirrors.rockylinux.org/..."]]}
    """

    @override
    @staticmethod
    def default() -> PackageSourcesDict:
        return {"missing": [], "sources": []}

    @override
    def command(self, packages: list[str]) -> StringCommand:
        return StringCommand(
            "missing=; for p in", *map(QuoteString, packages), "; do",
            "if command -v dpkg-query >/dev/null 2>&1; then",
            "dpkg-query -W -f='${db:Status-Abbrev}' \"$p\" 2>/dev/null | grep -q '^.i'",
            '|| missing="$missing $p";',
            'else rpm -q "$p" >/dev/null 2>&1 || missing="$missing $p"; fi; done;',
            "echo '--- missing'; for p in $missing; do echo \"$p\"; done;",
            'if [ -n "$missing" ]; then',
            "for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do",
            f"[ -f \"$f\" ] && echo '--- list' && sed 's/^/{FILE_LINE}/' \"$f\"; done;",
            "for f in /etc/apt/sources.list.d/*.sources; do",
            f"[ -f \"$f\" ] && echo '--- sources' && sed 's/^/{FILE_LINE}/' \"$f\"; done;",
            "for f in /etc/yum.repos.d/*.repo; do",
            f"[ -f \"$f\" ] && echo '--- repo' && sed 's/^/{FILE_LINE}/' \"$f\"; done; fi; true",
        )

    @override
    def process(self, output) -> PackageSourcesDict:
        return parse_package_sources(output)


def parse_package_sources(output) -> PackageSourcesDict:
    """What ``PackageSources`` prints, parsed."""
    found = PackageSources.default()
    readers = {"list": _one_line_sources, "sources": _deb822_sources, "repo": _repo_sources}
    for kind, lines in marked_sections(output, "", ("missing", *readers)):
        if kind == "missing":
            found["missing"] = [line.strip() for line in lines if line.strip()]
        elif kind in readers:
            text = [line[len(FILE_LINE):] for line in lines if line.startswith(FILE_LINE)]
            found["sources"] += [urls for urls in readers[kind](text) if urls]
    return found


def _network(urls: list[str]) -> list[str]:
    return [match.group(1) for match in map(_NETWORK.fullmatch, urls) if match]


def _one_line_sources(lines: list[str]) -> list[list[str]]:
    return [_network([match.group(1)])
            for match in map(_ONE_LINE.match, (line.split("#", 1)[0] for line in lines))
            if match]


def _deb822_sources(lines: list[str]) -> list[list[str]]:
    """Each stanza's URIs, unless ``Enabled: no``; continuation lines join their field."""
    stanzas: list[dict[str, str]] = [{}]
    field = None
    for line in lines:
        if not line.strip():
            stanzas.append({})
            field = None
        elif line.startswith("#"):
            continue
        elif line[0] in " \t" and field:
            stanzas[-1][field] += " " + line.strip()
        elif ":" in line:
            field, _, value = line.partition(":")
            field = field.strip().lower()
            stanzas[-1][field] = value.strip()
    return [_network(stanza["uris"].split()) for stanza in stanzas
            if "uris" in stanza and stanza.get("enabled", "yes").lower() != "no"]


def _repo_sources(lines: list[str]) -> list[list[str]]:
    """Each enabled repository's baseurl (one or more), mirrorlist and metalink."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string("\n".join(lines))
    except configparser.Error:
        return []
    return [
        _network(" ".join(parser.get(name, key, fallback="")
                          for key in ("baseurl", "mirrorlist", "metalink")).split())
        for name in parser.sections()
        if parser.get(name, "enabled", fallback="1").strip() not in ("0", "false", "no")
    ]
