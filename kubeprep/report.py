"""The readiness report as text (one table for the fleet, then the paths and the failures with
their fixes) and as JSON for scripts."""

from __future__ import annotations

from typing import Any

from kubeprep.checks.model import COLUMNS, ERROR, OK, WARNING, Report, worst

SYMBOLS = {OK: "✓", WARNING: "!", ERROR: "✗"}
NOT_CHECKED = "·"
ROLE_LABELS = {"control_plane": "cp", "workers": "worker"}


def cells(report: Report) -> dict[str, dict[str, str]]:
    """node -> column -> worst level ('' when the column was not checked)."""
    table = {}
    for node in report.nodes:
        row = {}
        for column in COLUMNS:
            levels = [result.level for result in node.results if result.check == column]
            row[column] = worst(levels) if levels else ""
        table[node.name] = row
    return table


def render_text(report: Report) -> str:
    counts = report.counts
    verdict = "READY" if report.ok else "NOT READY"
    lines = [
        f"kubeprep readiness check (kubernetes {report.kubernetes_version}): {verdict}, "
        f"{len(report.nodes)} nodes, {counts[ERROR]} errors, {counts[WARNING]} warnings",
        "",
    ]
    name_width = max([4, *(len(node.name) for node in report.nodes)])
    role_width = 6
    header = f"{'node':<{name_width}}  {'role':<{role_width}}  " + " ".join(COLUMNS)
    lines.append(header)
    table = cells(report)
    for node in report.nodes:
        row = table[node.name]
        marks = " ".join(
            (SYMBOLS.get(row[column], NOT_CHECKED)).center(len(column)) for column in COLUMNS
        )
        role = ROLE_LABELS.get(node.role, node.role)
        lines.append(f"{node.name:<{name_width}}  {role:<{role_width}}  {marks}".rstrip())
    lines.append(f"{SYMBOLS[OK]} ok  {SYMBOLS[WARNING]} warning  {SYMBOLS[ERROR]} error  "
                 f"{NOT_CHECKED} not checked")

    if report.paths:
        lines += ["", "Paths (a listener on the target, a connection from the source):"]
        width = max(
            len(f"{p.path.source} -> {p.path.target}:{p.path.port}") for p in report.paths
        )
        for path in report.paths:
            name = f"{path.path.source} -> {path.path.target}:{path.path.port}"
            lines.append(f"  {SYMBOLS[path.level]} {name:<{width}}  {path.result:<11}  "
                         f"{path.path.why}: {path.detail}")

    failures = [
        (node.name, result) for node in report.nodes for result in node.results
        if result.level != OK
    ]
    failures.sort(key=lambda item: item[1].level != ERROR)  # errors first, stable otherwise
    if failures:
        lines += ["", "Errors and warnings:"]
        for name, result in failures:
            lines.append(f"  {SYMBOLS[result.level]} {name} {result.check}: {result.detail}")
            if result.fix:
                lines.append(f"      fix: {result.fix}")
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> dict[str, Any]:
    counts = report.counts
    table = cells(report)
    return {
        "ready": report.ok,
        "kubernetes_version": report.kubernetes_version,
        "errors": counts[ERROR],
        "warnings": counts[WARNING],
        "nodes": {
            node.name: {
                "role": node.role,
                "address": node.address,
                "status": {column: level or None for column, level in table[node.name].items()},
                "checks": [
                    {"check": r.check, "level": r.level, "detail": r.detail, "fix": r.fix}
                    for r in node.results
                ],
            }
            for node in report.nodes
        },
        "paths": [
            {
                "source": p.path.source, "target": p.path.target, "address": p.path.address,
                "port": p.path.port, "why": p.path.why, "expected": p.path.expected,
                "result": p.result, "detail": p.detail,
            }
            for p in report.paths
        ],
    }
