"""
containerd set up for the kubelet: its config file for the installed version, registry mirrors,
the service running, enabled and restarted when its config changed.
"""

from __future__ import annotations

import tomllib
from io import StringIO

from pyinfra import host
from pyinfra.api import (
    FileUploadCommand,
    OperationError,
    OperationValueError,
    StringCommand,
    operation,
)
from pyinfra.api.command import QuoteString

from kubeprep.containerd import (
    CA_PATH,
    CERTS_DIR,
    CGROUP_DRIVERS,
    CONFIG_PATH,
    HEADER,
    parse_version,
    render_config,
    render_hosts,
)
from kubeprep.facts.containerd import ContainerdState, ContainerdStateDict

UNIT = "containerd.service"


def _same_meaning(text: str | None, wanted: str) -> bool:
    """Whether a TOML file says what ``wanted`` says, whatever its layout and comments."""
    if text is None:
        return False
    try:
        return tomllib.loads(text) == tomllib.loads(wanted)
    except tomllib.TOMLDecodeError:
        return False


def _upload(text: str, path: str) -> list:
    return [
        FileUploadCommand(StringIO(text), path, remote_temp_filename=host.get_temp_filename(path)),
        StringCommand("chmod 644", QuoteString(path)),
    ]


@operation()
def configured(
    cgroup_driver: str,
    sandbox_image: str,
    cni_bin_dir: str,
    registry_mirrors: dict[str, list[str]] | None = None,
    planned_version: str | None = None,
    registry_ca: str | None = None,
):
    """
    Write ``/etc/containerd/config.toml`` for the installed containerd (``version = 2`` for 1.x,
    ``version = 3`` for 2.x) and a ``certs.d/<registry>/hosts.toml`` per mirrored registry; start
    and enable containerd, and restart it when its config is newer than the running daemon.

    + cgroup_driver: ``systemd`` (``SystemdCgroup = true``) or ``cgroupfs``
    + sandbox_image: the pod sandbox (pause) image, with its registry host
    + cni_bin_dir: the directory holding the CNI plugins
    + registry_mirrors: mirror URLs by registry host; hosts files kubeprep wrote for a registry
      no longer listed are removed
    + planned_version: the version to plan for while containerd is not installed yet (a dry run
      on a fresh host); at run time the installed version decides
    + registry_ca: PEM of the CA the ``https://`` mirrors' certificates are checked against,
      written to ``certs.d/kubeprep-ca.crt``; ``None``: the system's CAs (that file removed)

    Files are compared by meaning (parsed TOML), so a comment or a reordering is not a change.

    **Example:**

    .. code:: python

        containerd.configured(
            name="containerd configured for the kubelet, running and enabled",
            cgroup_driver="systemd",
            sandbox_image="registry.k8s.io/pause:3.10",
            cni_bin_dir="/usr/lib/cni",
            registry_mirrors={"docker.io": ["https://mirror.example.com:5000"]},
        )
    """
    if cgroup_driver not in CGROUP_DRIVERS:
        raise OperationValueError(f"cgroup_driver must be one of {', '.join(CGROUP_DRIVERS)}")
    mirrors = registry_mirrors or {}
    state = host.get_fact(ContainerdState, cni_bin_dir=cni_bin_dir)
    version = _version_to_plan(state, planned_version)
    config = render_config(version, cgroup_driver, sandbox_image, cni_bin_dir, bool(mirrors))
    rewrite = not _same_meaning(state["config"], config)
    commands = [
        *(_config_commands(config, state["config"] is None) if rewrite else []),
        *_ca_commands(state["ca"], registry_ca),
        *_hosts_commands(state["hosts"], mirrors, ca=registry_ca is not None),
        *_service_commands(state, restart=rewrite),
    ]
    if not commands:
        host.noop(
            f"{CONFIG_PATH} is as kubeprep writes it for containerd {state['version']}, "
            "which runs with it and is enabled",
        )
    yield from commands


def _version_to_plan(
    state: ContainerdStateDict, planned_version: str | None,
) -> tuple[int, int, int]:
    """The installed version, else (only in a dry run) ``planned_version`` or 1.0.0."""
    version = parse_version(state["version"])
    if version is None:
        if host.state.is_executing:
            raise OperationError(f"containerd is not installed ({state['version'] or 'absent'})")
        version = parse_version(planned_version) or (1, 0, 0)
    return version


def _config_commands(config: str, first: bool) -> list:
    """Write ``config`` to its path, its directory made ``first`` (no config file yet)."""
    commands: list = []
    if first:
        commands.append(StringCommand("mkdir -p", QuoteString(CONFIG_PATH.rsplit("/", 1)[0])))
    return commands + _upload(config, CONFIG_PATH)


def _ca_commands(found: str | None, ca: str | None) -> list:
    """The mirrors' CA written where it differs from ``found``, or removed without one."""
    if ca is None:
        return [] if found is None else [StringCommand("rm -f", CA_PATH)]
    if found is not None and found.strip() == ca.strip():
        return []
    return [StringCommand("mkdir -p", CERTS_DIR), *_upload(ca.strip() + "\n", CA_PATH)]


def _hosts_commands(found: dict[str, str], mirrors: dict[str, list[str]], ca: bool) -> list:
    """Write each mirror's hosts file unless ``found`` says it; remove the others kubeprep wrote."""
    commands: list = []
    for registry, urls in mirrors.items():
        hosts = render_hosts(registry, urls, ca)
        if not _same_meaning(found.get(registry), hosts):
            commands.append(StringCommand("mkdir -p", QuoteString(f"{CERTS_DIR}/{registry}")))
            commands += _upload(hosts, f"{CERTS_DIR}/{registry}/hosts.toml")
    for registry, text in found.items():
        if registry not in mirrors and text.startswith(HEADER):
            directory = f"{CERTS_DIR}/{registry}"
            commands.append(StringCommand("rm -f", QuoteString(f"{directory}/hosts.toml")))
            commands.append(
                StringCommand("rmdir --ignore-fail-on-non-empty", QuoteString(directory)),
            )
    return commands


def _service_commands(state: ContainerdStateDict, restart: bool) -> list[str]:
    """Start containerd, or ``restart`` it (also when it runs an older config); enable it."""
    commands: list[str] = []
    running = state["active"] == "active"
    # A config written after the daemon started (a run cut short before its restart).
    stale = (running and state["config_mtime"] is not None and state["started"] is not None
             and state["started"] < state["config_mtime"])
    if not running:
        commands.append(f"systemctl start {UNIT}")
    elif restart or stale:
        commands.append(f"systemctl restart {UNIT}")
    if state["enabled"] != "enabled":
        commands.append(f"systemctl enable {UNIT}")
    return commands
