"""containerd as it stands (``ContainerdState``): version, service, effective and written config,
images, socket, CNI plugins, registry hosts; and whether its CRI plugin answers on the socket
(``CRI_PLUGIN``, which only the readiness fact reads). Each part's command and parser serve
NodeReadiness too."""

from __future__ import annotations

import tomllib

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

from kubeprep.containerd import CA_PATH, CERTS_DIR, CONFIG_PATH, SOCKET, effective_settings
from kubeprep.facts import FILE_LINE, marked_sections, printed_file

# Whether the CRI answers on its socket: containerd's plugin list (over that socket) has the CRI
# gRPC plugin, with its status; else ctr's error (nothing listening). Read with parse_cri().
CRI_PLUGIN = (
    f"if [ -S {SOCKET} ] && command -v ctr >/dev/null 2>&1; then"
    " timeout 10 ctr plugins ls 2>&1 | awk '$2 == \"cri\" || /^ctr: /'; fi"
)


class CriDict(TypedDict):
    status: str | None  # the CRI plugin's: ok, skip, error; None: not listed or not asked
    error: str | None  # ctr's, when the socket does not answer


class ContainerdStateDict(TypedDict):
    version: str | None
    active: str | None
    enabled: str | None
    started: int | None
    config: str | None
    config_mtime: int | None
    effective: dict | None
    socket: bool
    images: list[str]
    cni_bin_dir: str
    cni_plugins: list[str]
    hosts: dict[str, str]
    ca: str | None  # CA_PATH's content


class ContainerdState(FactBase[ContainerdStateDict]):
    """
    Returns containerd as the kubelet meets it, read in one command: the installed version, the
    service, ``/etc/containerd/config.toml`` and what containerd makes of it (``containerd config
    dump``, reduced to the settings kubeprep owns), the CRI socket, the images in the ``k8s.io``
    namespace, the CNI plugins in ``cni_bin_dir``, the registry hosts files in ``certs.d`` and
    the mirrors' CA kubeprep writes there.

    + cni_bin_dir: the directory whose CNI plugins are listed

    ``started`` and ``config_mtime`` are Unix times: a config newer than the running daemon is
    not in effect yet. ``effective`` is ``None`` when containerd is absent or its config does not
    load.

    .. code:: python

        {
            "version": "1.6.20~ds1",
            "active": "active",
            "enabled": "enabled",
            "started": 1764502720,
            "config": "version = 2\\n...",
            "config_mtime": 1764502719,
            "effective": {
                "config_version": 2, "systemd_cgroup": True,
                "sandbox_image": "registry.k8s.io/pause:3.10", "cni_bin_dirs": ["/usr/lib/cni"],
                "config_path": "", "cri_disabled": [],
            },
            "socket": True,
            "images": ["registry.k8s.io/pause:3.10"],
            "cni_bin_dir": "/usr/lib/cni",
            "cni_plugins": ["bridge", "host-local", "loopback"],
            "hosts": {"docker.io": "server = ...\\n"},
            "ca": None,
        }
    """

    @override
    @staticmethod
    def default() -> ContainerdStateDict:
        return {
            "version": None, "active": None, "enabled": None, "started": None, "config": None,
            "config_mtime": None, "effective": None, "socket": False, "images": [],
            "cni_bin_dir": "", "cni_plugins": [], "hosts": {}, "ca": None,
        }

    @override
    def command(self, cni_bin_dir: str) -> StringCommand:
        return state_command(QuoteString(cni_bin_dir))

    @override
    def process(self, output) -> ContainerdStateDict:
        return parse_state(output)


def state_command(cni_bin_dir: QuoteString | str) -> StringCommand:
    """``ContainerdState``'s command; ``cni_bin_dir`` is a quoted path, or a shell word such as
    ``"$cni_bin_dir"`` when another fact's command picks the directory on the host."""
    unit = "containerd.service"
    return StringCommand(
        "if command -v containerd >/dev/null 2>&1; then containerd --version;",
        f"echo '--- service'; systemctl is-active {unit}; systemctl is-enabled {unit};",
        f"t=$(systemctl show -p ActiveEnterTimestamp --value {unit});",
        'echo "--- started"; [ -z "$t" ] || date -d "$t" +%s;',
        f"echo '--- dump'; containerd config dump 2>/dev/null | sed 's/^/{FILE_LINE}/';",
        "echo '--- images'; ctr -n k8s.io images ls -q 2>/dev/null; fi;",
        f"echo '--- socket'; [ -S {SOCKET} ] && echo yes;",
        f"if [ -f {CONFIG_PATH} ]; then echo \"--- config $(stat -c %Y {CONFIG_PATH})\";",
        f"sed 's/^/{FILE_LINE}/' {CONFIG_PATH}; echo; fi;",
        "echo '--- cni'", cni_bin_dir, "; ls -1", cni_bin_dir, "2>/dev/null;",
        f"for f in {CERTS_DIR}/*/hosts.toml; do [ -f \"$f\" ] || continue;",
        'd=${f%/hosts.toml}; echo "--- hosts ${d##*/}";',
        f"sed 's/^/{FILE_LINE}/' \"$f\"; echo; done;",
        f"[ ! -f {CA_PATH} ] || {{ echo '--- ca'; sed 's/^/{FILE_LINE}/' {CA_PATH}; echo; }};",
        "echo '--- end'",
    )


def parse_state(output) -> ContainerdStateDict:
    """The lines ``state_command`` prints, parsed (see ``ContainerdState``)."""
    fact = ContainerdState.default()
    for name, lines in marked_sections(output, "version"):
        values = [line.strip() for line in lines if line.strip()]
        if name == "version" and values:
            fact["version"] = _version_field(values[0])
        elif name == "service":
            fact["active"] = values[0] if values else None
            fact["enabled"] = values[1] if len(values) > 1 else None
        elif name == "started" and values:
            fact["started"] = int(values[0])
        elif name == "dump":
            fact["effective"] = _effective(printed_file(lines))
        elif name == "images":
            fact["images"] = values
        elif name == "socket":
            fact["socket"] = values == ["yes"]
        elif name.startswith("config "):
            fact["config_mtime"] = int(name[7:])
            fact["config"] = printed_file(lines)
        elif name.startswith("cni "):
            fact["cni_bin_dir"] = name[4:]
            fact["cni_plugins"] = values
        elif name.startswith("hosts "):
            fact["hosts"][name[6:]] = printed_file(lines) or ""
        elif name == "ca":
            fact["ca"] = printed_file(lines)
    return fact


def _version_field(line: str) -> str | None:
    """The version in ``containerd --version``: its third field (a fourth is a package version
    or a commit)."""
    fields = line.split()
    return fields[2] if len(fields) >= 3 else None


def _effective(dump: str | None) -> dict | None:
    if not dump:
        return None
    try:
        return effective_settings(tomllib.loads(dump))
    except tomllib.TOMLDecodeError:
        return None


def parse_cri(lines: list[str]) -> CriDict:
    """The CRI plugin's status in ``ctr plugins ls`` (``io.containerd.grpc.v1 cri linux/amd64
    ok``), or ctr's error when the socket does not answer."""
    found: CriDict = {"status": None, "error": None}
    for line in lines:
        fields = line.split()
        if line.startswith("ctr: "):
            found["error"] = line.removeprefix("ctr: ").strip()
        elif len(fields) >= 3 and fields[1] == "cri":
            found["status"] = fields[-1]
    return found
