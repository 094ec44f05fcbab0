"""containerd for the kubelet: its config rendered per major version, and what it reads in effect.
Pure Python, no pyinfra.

containerd 1.x reads config ``version = 2`` (CRI plugin ``io.containerd.grpc.v1.cri``), 2.x reads
``version = 3`` (``io.containerd.cri.v1.images`` and ``io.containerd.cri.v1.runtime``). A setting in
the section the installed version does not read is silently ignored, so the file is rendered for
the installed version and the effective config (``containerd config dump``) is what is checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

CGROUP_DRIVERS = ("systemd", "cgroupfs")
CONFIG_PATH = "/etc/containerd/config.toml"
CERTS_DIR = "/etc/containerd/certs.d"
# The CA of the HTTPS registry mirrors, from containerd_registry_ca; each https mirror names it.
CA_PATH = f"{CERTS_DIR}/kubeprep-ca.crt"
SOCKET = "/run/containerd/containerd.sock"
# Where each platform family's own CNI plugins package puts the plugins.
CNI_BIN_DIRS = {"debian": "/usr/lib/cni", "rhel": "/opt/cni/bin"}
PACKAGES = {"debian": "containerd", "rhel": "containerd.io"}
# The first line of every file kubeprep writes for containerd: only such files are replaced or
# removed.
HEADER = "# Written by kubeprep (tasks/runtime.py): edits here are overwritten."

_CRI_V2 = 'plugins."io.containerd.grpc.v1.cri"'
_IMAGES_V3 = "plugins.'io.containerd.cri.v1.images'"
_RUNTIME_V3 = "plugins.'io.containerd.cri.v1.runtime'"
_RUNC_OPTIONS = "containerd.runtimes.runc.options"

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


class Runtime:
    """The runtime keys, one field per key (``KEYS``, as ``kubeprep.settings.Settings`` stores
    them; ``Settings.runtime`` makes one), and what follows from them on a platform family.
    ``None`` means the platform's default."""

    KEYS = (
        "cgroup_driver", "containerd_package", "containerd_version", "containerd_rpm_repo",
        "containerd_rpm_gpg_key", "containerd_sandbox_image", "containerd_cni_bin_dir",
        "containerd_registry_mirrors", "containerd_registry_ca",
    )

    def package_name(self, family: str) -> str:
        return self.containerd_package or PACKAGES[family]

    def package_spec(self, family: str) -> str:
        """The package to install, pinned as pyinfra's apt/dnf operations write it."""
        name = self.package_name(family)
        return f"{name}={self.containerd_version}" if self.containerd_version else name

    def cni_bin_dir_for(self, family: str) -> str:
        return self.containerd_cni_bin_dir or CNI_BIN_DIRS[family]


def parse_version(text: str | None) -> tuple[int, int, int] | None:
    """(major, minor, patch) from ``containerd --version`` or a package version, else None.

    ``containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3`` (Debian),
    ``containerd github.com/containerd/containerd/v2 2.1.9+unknown`` (Debian unstable),
    ``containerd containerd.io 1.7.27 05044ec0...`` (Docker's containerd.io).
    """
    if not text:
        return None
    fields = text.split()
    candidates = fields[2:3] if len(fields) >= 3 and fields[0] == "containerd" else fields[:1]
    match = _VERSION.match(candidates[0].lstrip("v")) if candidates else None
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def _toml(value: object) -> str:
    """A TOML value: JSON strings, lists and booleans are valid TOML."""
    return json.dumps(value)


def render_config(
    version: tuple[int, ...],
    cgroup_driver: str,
    sandbox_image: str,
    cni_bin_dir: str,
    registry_mirrors: bool,
) -> str:
    """``/etc/containerd/config.toml`` for containerd ``version``: only the settings kubeprep owns,
    everything else at containerd's defaults.

    ``registry_mirrors``: set ``config_path`` so containerd reads ``certs.d/<registry>/hosts.toml``.
    """
    systemd = cgroup_driver == "systemd"
    if version[0] < 2:
        sections = [
            (_CRI_V2, {"sandbox_image": sandbox_image}),
            (f"{_CRI_V2}.cni", {"bin_dir": cni_bin_dir}),
            (f"{_CRI_V2}.containerd.runtimes.runc", {"runtime_type": "io.containerd.runc.v2"}),
            (f"{_CRI_V2}.{_RUNC_OPTIONS}", {"SystemdCgroup": systemd}),
        ]
        if registry_mirrors:
            sections.append((f"{_CRI_V2}.registry", {"config_path": CERTS_DIR}))
        config_version = 2
    else:
        # 2.1 replaced bin_dir by a list, bin_dirs; 2.0 reads only bin_dir.
        bin_dirs: dict[str, object] = (
            {"bin_dirs": [cni_bin_dir]} if version[:2] >= (2, 1) else {"bin_dir": cni_bin_dir}
        )
        sections = [(f"{_IMAGES_V3}.pinned_images", {"sandbox": sandbox_image})]
        if registry_mirrors:
            sections.append((f"{_IMAGES_V3}.registry", {"config_path": CERTS_DIR}))
        sections += [
            (f"{_RUNTIME_V3}.cni", bin_dirs),
            (f"{_RUNTIME_V3}.containerd.runtimes.runc", {"runtime_type": "io.containerd.runc.v2"}),
            (f"{_RUNTIME_V3}.{_RUNC_OPTIONS}", {"SystemdCgroup": systemd}),
        ]
        config_version = 3
    lines = [HEADER, f"# For containerd {version[0]}.x. cgroup driver: {cgroup_driver}.",
             f"version = {config_version}"]
    for table, values in sections:
        lines += ["", f"[{table}]"]
        lines += [f"  {key} = {_toml(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def registry_server(registry: str) -> str:
    """The URL containerd pulls ``registry``'s images from when no mirror serves them."""
    return "https://registry-1.docker.io" if registry == "docker.io" else f"https://{registry}"


def image_registry(reference: str) -> str:
    """The registry of an image, as ``certs.d`` names it (Docker's rule for a first part):
    ``registry.k8s.io/pause:3.10`` → ``registry.k8s.io``, ``flannel/flannel`` → ``docker.io``."""
    first, _, rest = reference.partition("/")
    named = rest and ("." in first or ":" in first or first == "localhost")
    return first if named else "docker.io"


def render_hosts(registry: str, mirrors: list[str], ca: bool = False) -> str:
    """``certs.d/<registry>/hosts.toml``: pull from the mirrors in order, then the registry;
    with ``ca``, each https mirror's certificate checked against ``CA_PATH``."""
    lines = [HEADER]
    if registry != "_default":
        lines.append(f"server = {_toml(registry_server(registry))}")
    for url in mirrors:
        lines += ["", f"[host.{_toml(url)}]", '  capabilities = ["pull", "resolve"]']
        if ca and url.startswith("https://"):
            lines.append(f"  ca = {_toml(CA_PATH)}")
    return "\n".join(lines) + "\n"


def effective_settings(dump: Mapping[str, Any]) -> dict[str, Any]:
    """What containerd reads for the kubelet, from the parsed ``containerd config dump``.

    ``cni_bin_dirs``: 1.x and 2.0 read ``bin_dir``; 2.1 reads ``bin_dirs``, or ``bin_dir`` when
    that (deprecated) key is set.
    """
    plugins = dump.get("plugins", {})
    if dump.get("version", 1) >= 3:
        images = plugins.get("io.containerd.cri.v1.images", {})
        runtime = plugins.get("io.containerd.cri.v1.runtime", {})
        sandbox = images.get("pinned_images", {}).get("sandbox")
        registry = images.get("registry", {})
        cni = runtime.get("cni", {})
        runc = runtime.get("containerd", {}).get("runtimes", {}).get("runc", {})
        cri_names = ("io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime",
                     "io.containerd.grpc.v1.cri", "cri")
    else:
        cri = plugins.get("io.containerd.grpc.v1.cri", {})
        sandbox = cri.get("sandbox_image")
        registry = cri.get("registry", {})
        cni = cri.get("cni", {})
        runc = cri.get("containerd", {}).get("runtimes", {}).get("runc", {})
        cri_names = ("io.containerd.grpc.v1.cri", "cri")
    bin_dir = cni.get("bin_dir")
    return {
        "config_version": dump.get("version", 1),
        "systemd_cgroup": runc.get("options", {}).get("SystemdCgroup", False),
        "sandbox_image": sandbox,
        "cni_bin_dirs": [bin_dir] if bin_dir else list(cni.get("bin_dirs", [])),
        "config_path": registry.get("config_path", ""),
        "cri_disabled": sorted(set(dump.get("disabled_plugins", [])) & set(cri_names)),
    }
