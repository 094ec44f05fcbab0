"""The software checks: the container runtime as the kubelet meets it, and the Kubernetes
packages (one version on the node and across the fleet, held, the kubelet enabled, its cgroup
driver containerd's). Pure Python, no pyinfra: the ``NodeReadiness`` fact's ``containerd``,
``cri``, ``packages`` and ``kubelet`` parts in, results out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeprep.checks.model import ERROR, OK, WARNING, Node, NodeSpec, Result
from kubeprep.containerd import SOCKET
from kubeprep.kubeadm import PACKAGES, matches, upstream

_PACKAGES_FIX = "pyinfra inventory.py tasks/kubernetes.py"


def classify(fact: Mapping[str, Any], cgroup_driver: str = "systemd") -> list[Result]:
    """The readiness rows of a node's containerd, from
    ``kubeprep.facts.containerd.ContainerdState``: active, the CRI socket, the cgroup driver in
    effect, the sandbox image, the CNI plugins.

    A sandbox image not pulled yet is a warning: containerd pulls it for the first pod (kubeadm's
    ``ImagePull`` check fails when the registry cannot be reached); only an air-gapped node must
    import it first.
    """
    if not fact.get("version"):
        return [Result("runtime", ERROR, "containerd is not installed",
                       "run tasks/runtime.py (pyinfra inventory.py tasks/runtime.py)")]
    rows = []
    active = fact.get("active") == "active"
    rows.append(Result(
        "runtime", OK if active else ERROR,
        f"containerd {fact['version']} {fact.get('active') or 'not running'}",
        "" if active else "systemctl enable --now containerd; journalctl -u containerd",
    ))
    effective = fact.get("effective")
    if effective is None:
        return [*rows, Result("runtime", ERROR, "containerd config dump failed: the config file "
                              "does not load", "run tasks/runtime.py to rewrite it")]
    disabled = effective["cri_disabled"]
    socket_ok = fact.get("socket") and not disabled
    rows.append(Result(
        "runtime", OK if socket_ok else ERROR,
        f"CRI socket {SOCKET} " + (
            f"served, but the CRI plugin is disabled ({', '.join(disabled)})" if disabled
            else "present" if fact.get("socket") else "missing"),
        "" if socket_ok else "run tasks/runtime.py: it writes a config with the CRI plugin on",
    ))
    wanted = cgroup_driver == "systemd"
    driver_ok = effective["systemd_cgroup"] == wanted
    rows.append(Result(
        "runtime", OK if driver_ok else ERROR,
        f"SystemdCgroup = {str(effective['systemd_cgroup']).lower()} in effect "
        f"(cgroup_driver = {cgroup_driver})",
        "" if driver_ok else "run tasks/runtime.py: the kubelet and containerd must use one driver",
    ))
    image = effective["sandbox_image"]
    image_ok = image in fact.get("images", [])
    rows.append(Result(
        "runtime", OK if image_ok else WARNING,
        f"sandbox image {image} " + ("present" if image_ok else "not in the k8s.io namespace: "
                                     "containerd pulls it for the first pod; import it first on "
                                     "a node without access to the registry"),
        "" if image_ok else f"ctr -n k8s.io images pull {image} (or import it offline)",
    ))
    plugins = fact.get("cni_plugins", [])
    dirs = effective["cni_bin_dirs"]
    cni_ok = bool(plugins) and fact.get("cni_bin_dir") in dirs
    rows.append(Result(
        "runtime", OK if cni_ok else ERROR,
        f"CNI plugins in {fact.get('cni_bin_dir')}: {', '.join(plugins) or 'none'} "
        f"(containerd reads {', '.join(dirs) or 'no directory'})",
        "" if cni_ok else "install the CNI plugins package (containernetworking-plugins) and "
        "run tasks/runtime.py",
    ))
    return rows


def check_runtime(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """containerd as ``classify`` reads it, and the CRI answering on its socket
    (``ctr plugins ls``: the ``cri`` plugin ``ok``).

    No containerd at all is an error: kubeadm's ``CRI`` check fails when no runtime answers.
    """
    containerd = facts.get("containerd") or {}
    rows = classify(containerd, spec.cgroup_driver)
    if not containerd.get("version"):
        (row,) = rows
        return [Result("runtime", ERROR, row.detail + " ([ERROR CRI]: kubeadm finds no container "
                       "runtime on its socket)", row.fix)]
    cri = facts.get("cri") or {}
    if all(row.level == OK for row in rows[:2]) and (cri.get("status") or cri.get("error")):
        if cri.get("status") == "ok":
            rows.append(Result("runtime", OK, "the CRI answers on its socket (cri plugin ok)"))
        else:
            why = (f"does not answer: {cri['error']}" if cri.get("error")
                   else f"has its cri plugin {cri['status']}")
            rows.append(Result(
                "runtime", ERROR, f"containerd {why} ([ERROR CRI])",
                "journalctl -u containerd (why the CRI did not start); "
                "systemctl restart containerd",
            ))
    return rows


def _version(package_version: str) -> str:
    return ".".join(map(str, upstream(package_version)))


def check_packages(spec: NodeSpec, facts: Mapping[str, Any]) -> list[Result]:
    """kubeadm, kubelet and kubectl installed at one version (the data's), held, the kubelet
    enabled, and the kubelet's cgroup driver containerd's.

    A node without kubeadm and the kubelet is a warning, not yet installed: tasks/kubernetes.py
    comes after the prepare steps. One of the two without the other is an error (kubeadm runs
    the kubelet it finds: ``KubeletVersion``), as is a kubelet of another version than
    kubeadm's (newer: kubeadm's ``KubeletVersion`` error; older: an unplanned skew). kubectl
    missing or at another version, another version than the data's, packages not held and the
    kubelet not enabled (kubeadm's ``Service-Kubelet`` warning) are warnings. The kubelet's
    cgroup driver is its ``/var/lib/kubelet/config.yaml``'s once kubeadm wrote it (the
    kubelet's default, cgroupfs, when the key is absent); before that it will be
    ``cgroup_driver``, whose match with containerd the runtime column checks.
    """
    packages = facts.get("packages") or {}
    installed = packages.get("installed") or {}
    if "kubeadm" not in installed and "kubelet" not in installed:
        found = f" (only {', '.join(f'{n} {v}' for n, v in installed.items())})" if installed \
            else ""
        return [Result("packages", WARNING,
                       f"kubeadm and kubelet not installed yet{found}", _PACKAGES_FIX)]
    results = []
    missing = [name for name in PACKAGES if name not in installed]
    if missing:
        level = WARNING if missing == ["kubectl"] else ERROR
        results.append(Result("packages", level, f"not installed: {' '.join(missing)}",
                              _PACKAGES_FIX))
    versions = {name: _version(found) for name, found in installed.items()}
    results += _version_problems(spec, installed, versions)
    held = packages.get("held") or []
    loose = [name for name in installed if name not in held]
    if loose:
        results.append(Result(
            "packages", WARNING,
            f"not held: {' '.join(loose)} (a system upgrade would move them past the cluster)",
            f"{_PACKAGES_FIX} (apt-mark hold, or exclude= in the dnf repository)",
        ))
    results += _kubelet(spec, facts, "kubelet" in installed)
    problems = [result for result in results if result.level != OK]
    if problems:
        return problems
    versions_text = ", ".join(f"{name} {v}" for name, v in versions.items())
    return [Result("packages", OK, "; ".join(
        [f"{versions_text}, held", *(result.detail for result in results)]))]


def _version_problems(
    spec: NodeSpec, installed: Mapping[str, str], versions: Mapping[str, str],
) -> list[Result]:
    """Packages not at one version (kubeadm and the kubelet apart: an error), or not the data's."""
    results = []
    if len(set(versions.values())) > 1:
        split = "kubeadm" in installed and "kubelet" in installed and \
            versions["kubeadm"] != versions["kubelet"]
        newer = split and upstream(installed["kubelet"]) > upstream(installed["kubeadm"])
        results.append(Result(
            "packages", ERROR if split else WARNING,
            "not at one version: " + ", ".join(f"{name} {v}" for name, v in versions.items())
            + (" ([ERROR KubeletVersion]: the kubelet is newer than kubeadm)" if newer else ""),
            f"{_PACKAGES_FIX} (installs all three at kubernetes_version)",
        ))
    other = [f"{name} {versions[name]}" for name in installed
             if not matches(installed[name], spec.kubernetes_version)]
    if other:
        results.append(Result(
            "packages", WARNING,
            f"{', '.join(other)} installed; the data says kubernetes_version = "
            f"{spec.kubernetes_version}",
            f"{_PACKAGES_FIX} (a downgrade needs kubernetes_allow_downgrade = True), or set "
            "kubernetes_version to what is installed",
        ))
    return results


def _kubelet(spec: NodeSpec, facts: Mapping[str, Any], installed: bool) -> list[Result]:
    """The kubelet's service enabled (kubeadm's Service-Kubelet) and cgroup driver."""
    if not installed:
        return []
    kubelet = facts.get("kubelet") or {}
    results = []
    if kubelet.get("enabled") != "enabled":
        results.append(Result(
            "packages", WARNING,
            f"kubelet.service is {kubelet.get('enabled') or 'not found'} ([WARNING "
            "Service-Kubelet]: kubelet service is not enabled)",
            f"systemctl enable kubelet.service ({_PACKAGES_FIX} enables it)",
        ))
    else:
        results.append(Result("packages", OK, "kubelet.service enabled"))
    effective = (facts.get("containerd") or {}).get("effective")
    if not kubelet.get("config"):
        results.append(Result("packages", OK, f"the kubelet will use cgroup_driver = "
                              f"{spec.cgroup_driver} (no /var/lib/kubelet/config.yaml yet)"))
    elif effective is not None:
        driver = kubelet.get("cgroup_driver") or "cgroupfs"
        runtime = "systemd" if effective["systemd_cgroup"] else "cgroupfs"
        if driver == runtime:
            results.append(Result("packages", OK, f"kubelet and containerd: {driver} cgroups"))
        else:
            results.append(Result(
                "packages", ERROR,
                f"the kubelet's cgroupDriver is {driver} (/var/lib/kubelet/config.yaml), "
                f"containerd's {runtime}: the static Pods crash-loop",
                "make both cgroup_driver: tasks/runtime.py for containerd; for the kubelet "
                "kubeadm reset -f and init/join again (or edit cgroupDriver in "
                "/var/lib/kubelet/config.yaml and restart the kubelet)",
            ))
    return results


def check_package_versions(nodes: list[Node]) -> dict[str, list[Result]]:
    """The kubelet at one version across the fleet: another minor than a node's peers is an
    error (kubeadm joins and upgrades a minor at a time), another patch a warning."""
    kubelets = {
        node.name: upstream(node.facts["packages"]["installed"]["kubelet"])
        for node in nodes
        if node.facts is not None and "kubelet" in ((node.facts.get("packages") or {})
                                                    .get("installed") or {})
    }
    results: dict[str, list[Result]] = {}
    for name, version in kubelets.items():
        others = {other: found for other, found in kubelets.items() if found != version}
        if not others:
            continue
        level = ERROR if any(found[:2] != version[:2] for found in others.values()) else WARNING
        listed = ", ".join(f"{other} {'.'.join(map(str, found))}"
                           for other, found in others.items())
        results[name] = [Result(
            "packages", level,
            f"kubelet {'.'.join(map(str, version))} here, other versions on {listed}",
            f"{_PACKAGES_FIX} with one kubernetes_version for every node",
        )]
    return results
