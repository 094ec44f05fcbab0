"""Whether the package sources a task installs from answer this host, before anything changes:
on a network without them, apt and dnf fail only after the earlier tasks have changed the host,
with a message that names no source."""

from __future__ import annotations

from pyinfra import host

from kubeprep.errors import DataError
from kubeprep.facts.network import CONNECT_SECONDS, TcpAnswers
from kubeprep.facts.packages import PackageSourcesDict
from kubeprep.kubeadm import url_target


def sources_error(found: PackageSourcesDict, task: str, stop_before: str | None,
                  extra: tuple[list[str], ...] = ()) -> DataError | None:
    """The first package source (the host's enabled ones, and ``extra`` this run adds) that does
    not answer, when ``task`` has packages to install (``found["missing"]``); one TCP read."""
    sources = [*found["sources"], *extra] if found["missing"] else []
    targets = sorted({url_target(url) for urls in sources for url in urls})
    if not targets:
        return None
    answers = host.get_fact(TcpAnswers, targets=targets)
    for urls in sources:
        if any(answers.get(url_target(url)) for url in urls):
            continue
        missing = " ".join(found["missing"])
        tried = ", ".join(dict.fromkeys(url_target(url) for url in urls))
        stop = f', or deploy_until = "{stop_before}" to stop before it' if stop_before else ""
        return DataError(
            f"{host.name}: the package source {urls[0]} does not answer from {host.name} (no "
            f"TCP connection to {tried} in {CONNECT_SECONDS} s), and the {task} task installs "
            f"{missing} (apt and dnf read every enabled source first). Fix: point that source "
            f"(/etc/apt/sources.list.d, /etc/yum.repos.d) at a mirror this host reaches, disable "
            f"it, or install {missing} by hand{stop}.",
        )
    return None
