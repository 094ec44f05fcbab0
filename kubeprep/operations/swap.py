"""
Turn swap off now and keep it off after a reboot, or undo exactly that.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from pyinfra import host
from pyinfra.api import OperationError, StringCommand, operation
from pyinfra.api.command import QuoteString

from kubeprep.facts.swap import (
    UNIT_BACKUP_SUFFIX,
    UNIT_DIR,
    ZRAM_DIRS,
    ZRAM_DROP_INS,
    ZRAM_MAIN,
    SwapState,
    SwapStateDict,
)
from kubeprep.fleet.reads import changes, shared_fact
from kubeprep.fstab import COMMENT_PREFIX, is_kubeprep_comment, is_swap_entry
from kubeprep.operations.backup import keep_original

# Unit directories that survive a reboot; generated units (/run/systemd/generator*) are left to
# the fstab edit and the zram config, which remove what generates them.
_PERSISTENT_UNIT_DIRS = (
    f"{UNIT_DIR}/", "/usr/local/lib/systemd/system/", "/usr/lib/systemd/system/",
    "/lib/systemd/system/",
)
# What kubeprep writes over a zram-generator config file: no [zramN] section, so no device.
ZRAM_OVERRIDE = (
    '# kubeprep: swap = "off". No [zramN] section here: zram-generator creates no device.\n'
)


@operation()
def off(fstab: str = "/etc/fstab"):
    """
    Turn every active swap off (``swapoff -a``) and comment out every swap entry in the fstab,
    leaving all other lines byte for byte as they were.

    + fstab: path of the fstab to edit

    The edit only goes ahead if the file still has the checksum it had when it was read, and is
    followed by ``systemctl daemon-reload`` so systemd drops the swap units it generated from it.
    ``<fstab>.kubeprep.bak`` keeps the file as it was before kubeprep first edited it: a later
    edit never overwrites it.

    **Example:**

    .. code:: python

        swap.off(
            name="Disable swap, as the kubelet requires",
        )
    """
    state = shared_fact(SwapState, fstab=fstab)
    yield from changes(SwapState, _off(state, fstab))


def _off(state: SwapStateDict, fstab: str) -> Iterator[StringCommand | str]:
    if state["active"]:
        yield "swapoff -a"

    text = state["fstab"] or ""
    swap_lines = [number for number, line in enumerate(text.split("\n"), 1) if is_swap_entry(line)]
    if swap_lines:
        prefix = COMMENT_PREFIX.replace("#", "\\#")
        yield _checked_sed(text, fstab, [f"{n}s/^/{prefix}/" for n in swap_lines])
        yield "systemctl daemon-reload"

    if not state["active"] and not swap_lines:
        host.noop(f"no swap is active and {fstab} has no swap entry")


@operation()
def on(fstab: str = "/etc/fstab"):
    """
    Undo ``swap.off`` in the fstab: uncomment the entries it commented out, then turn swap on.

    + fstab: path of the fstab to edit

    Only lines that start with kubeprep's ``#kubeprep# `` prefix change, and only by losing it;
    the edit is checksum-guarded and backed up like ``swap.off``'s and is followed by
    ``systemctl daemon-reload`` and ``swapon -a``. A fstab kubeprep never edited is left alone.

    **Example:**

    .. code:: python

        swap.on(
            name="Swap back on, for the kubelet's NodeSwap",
        )
    """
    state = shared_fact(SwapState, fstab=fstab)
    yield from changes(SwapState, _on(state, fstab))


def _on(state: SwapStateDict, fstab: str) -> Iterator[StringCommand | str]:
    text = state["fstab"] or ""
    lines = [number for number, line in enumerate(text.split("\n"), 1) if is_kubeprep_comment(line)]
    if not lines:
        host.noop(f"{fstab} has no entry commented out by kubeprep")
        return

    yield _checked_sed(text, fstab, [f"{n}s/^{COMMENT_PREFIX}//" for n in lines])
    yield "systemctl daemon-reload"
    yield "swapon -a"


@operation()
def units(masked: bool = True):
    """
    Stop and mask the ``.swap`` units written by hand, or restore the ones kubeprep masked.

    + masked: ``True`` masks every ``.swap`` unit loaded from a unit directory that survives a
      reboot; ``False`` puts back exactly the units kubeprep masked

    Units generated from the fstab or by zram-generator are left to ``swap.off`` and
    ``swap.zram``. ``systemctl mask`` cannot replace a unit file in ``/etc/systemd/system``, so
    such a file is moved to ``<unit>.kubeprep.bak`` first; for a vendor unit,
    ``<unit>.kubeprep.bak`` is a symlink to its file, recording that kubeprep masked it. A backup
    is never replaced: a unit file back in ``/etc/systemd/system`` next to one is refused.

    **Example:**

    .. code:: python

        swap.units(
            name="Mask hand-written swap units",
            masked=True,
        )
    """
    state = shared_fact(SwapState)
    commands = list(changes(SwapState, _mask_units(state) if masked else _unmask_units(state)))
    if not commands:
        host.noop(
            "no .swap unit outside the fstab and zram-generator is left unmasked" if masked
            else "kubeprep masked no .swap unit",
        )
    yield from commands


@operation()
def zram(disabled: bool = True):
    """
    Turn zram swap set up by zram-generator off now and at boot, or restore its config.

    + disabled: ``True`` overrides every zram-generator config file that defines a zram swap
      device; ``False`` puts back the files kubeprep overrode

    A file is overridden with one of the same name in ``/etc/systemd`` that holds only a comment
    (zram-generator.conf(5): the first main file found wins, and ``/etc`` drop-ins replace those
    of the same name), as the vendor file of zram-generator-defaults documents; a file already
    in ``/etc`` is backed up to ``<file>.kubeprep.bak`` first, unless kubeprep backed it up
    before: the backup stays the file as it was before kubeprep. Active zram swap is turned off
    with ``swapoff`` before ``systemctl daemon-reload`` drops the generated units. Restoring
    reloads systemd and starts the zram swap units of the restored config.

    **Example:**

    .. code:: python

        swap.zram(
            name="No zram swap, now or at boot",
            disabled=True,
        )
    """
    state = shared_fact(SwapState)
    commands = list(changes(
        SwapState, _disable_zram(state) if disabled else _restore_zram(state["zram"]),
    ))
    if not commands:
        host.noop(
            "no zram-generator config defines a zram swap device" if disabled
            else "kubeprep overrode no zram-generator config",
        )
    yield from commands


@operation()
def swap_target(masked: bool = True):
    """
    Mask ``swap.target``, so nothing pulls swap in at boot (as kubespray does), or unmask it.

    + masked: whether ``swap.target`` should be masked

    **Example:**

    .. code:: python

        swap.swap_target(
            name="Mask swap.target",
            masked=True,
        )
    """
    yield from changes(SwapState, _swap_target(shared_fact(SwapState), masked))


def _swap_target(state: SwapStateDict, masked: bool) -> Iterator[str]:
    current = state["swap_target"]
    if current is None:
        host.noop("no systemd: systemctl is-enabled swap.target printed nothing")
    elif masked and current != "masked":
        yield "systemctl mask swap.target"
    elif not masked and current == "masked":
        yield "systemctl unmask swap.target"
    else:
        host.noop(f"swap.target is {current}")


def _checked_sed(text: str, path: str, scripts: list[str]) -> StringCommand:
    """``sed -i`` with ``scripts`` on ``path``, only if the file is still ``text``; the file as it
    was before kubeprep's first edit is kept in ``<path>.kubeprep.bak``."""
    checksum = hashlib.sha256(text.encode()).hexdigest()
    return StringCommand(
        "echo", QuoteString(f"{checksum}  {path}"), "| sha256sum --check --status &&",
        keep_original(path), "&& sed -i",
        *(arg for script in scripts for arg in ("-e", QuoteString(script))), QuoteString(path),
    )


def _mask_units(state: SwapStateDict) -> Iterator[StringCommand]:
    """Commands that mask the units, the backup of a unit kubeprep masked before kept as it is."""
    for unit in state["units"]:
        fragment = unit["fragment"]
        if unit["load"] == "masked" or not fragment.startswith(_PERSISTENT_UNIT_DIRS):
            continue
        name = unit["id"]
        backup = f"{UNIT_DIR}/{name}{UNIT_BACKUP_SUFFIX}"
        in_etc = fragment.startswith(f"{UNIT_DIR}/")
        if in_etc and name in state["unit_backups"]:
            raise OperationError(
                f"{fragment} is back since kubeprep masked {name}, and masking it again would "
                f"move it over {backup}, kubeprep's backup of the unit as it was before. Fix: "
                f"keep the one you want as {backup}, remove the other, then run again.",
            )
        if unit["active"] in ("active", "activating"):
            yield StringCommand("systemctl", "stop", QuoteString(name))
        if in_etc:
            yield StringCommand("mv", QuoteString(fragment), QuoteString(backup))
        yield StringCommand("systemctl", "mask", QuoteString(name))
        if not in_etc and name not in state["unit_backups"]:
            yield StringCommand("ln", "-sfn", QuoteString(fragment), QuoteString(backup))


def _unmask_units(state: SwapStateDict) -> Iterator[StringCommand | str]:
    masked = {unit["id"] for unit in state["units"] if unit["load"] == "masked"}
    for name, kind in sorted(state["unit_backups"].items()):
        backup = QuoteString(f"{UNIT_DIR}/{name}{UNIT_BACKUP_SUFFIX}")
        if name in masked:
            yield StringCommand("systemctl", "unmask", QuoteString(name))
        if kind == "file":
            yield StringCommand("mv", backup, QuoteString(f"{UNIT_DIR}/{name}"))
        else:
            yield StringCommand("rm", backup)
    if state["unit_backups"]:
        yield "systemctl daemon-reload"


def _zram_sections(text: str) -> dict[str, dict[str, str]]:
    """The ``[zramN]`` sections of a zram-generator config file and their options."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        header = re.fullmatch(r"\[(.*)\]", line)
        if header:
            current = sections.setdefault(header[1], {}) \
                if re.fullmatch(r"zram[0-9]+", header[1]) else None
        elif current is not None and "=" in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return sections


def _effective_zram_files(files: dict[str, str]) -> list[str]:
    """The files zram-generator reads: the first main file found, then the drop-ins by name."""
    mains = [f"{directory}/{ZRAM_MAIN}" for directory in ZRAM_DIRS]
    main = [next(path for path in mains if path in files)] if set(mains) & set(files) else []
    drop_ins: dict[str, str] = {}
    for directory in reversed(ZRAM_DIRS):  # /etc last: it replaces a drop-in of the same name
        prefix = f"{directory}/{ZRAM_DROP_INS}/"
        for path in files:
            if path.startswith(prefix) and path.endswith(".conf"):
                drop_ins[path[len(prefix):]] = path
    return main + [drop_ins[name] for name in sorted(drop_ins)]


def _zram_swap_devices(files: dict[str, str]) -> set[str]:
    """The zram devices the config makes swap: no ``mount-point`` and no other ``fs-type``."""
    options: dict[str, dict[str, str]] = {}
    for path in _effective_zram_files(files):
        for device, values in _zram_sections(files[path]).items():
            options.setdefault(device, {}).update(values)
    return {
        device for device, values in options.items()
        if values.get("fs-type", "swap" if "mount-point" not in values else "") == "swap"
    }


def _disable_zram(state: SwapStateDict) -> Iterator[StringCommand | str]:
    files = state["zram"]
    devices = _zram_swap_devices(files)
    overridden = [
        path for path in _effective_zram_files(files) if set(_zram_sections(files[path])) & devices
    ]
    if not overridden:
        return
    for path in overridden:
        target = ZRAM_DIRS[0] + path[path.index("/systemd/") + len("/systemd"):]
        if path == target:
            yield keep_original(path)
        elif ZRAM_DROP_INS in path:
            yield StringCommand("mkdir", "-p", QuoteString(f"{ZRAM_DIRS[0]}/{ZRAM_DROP_INS}"))
        yield StringCommand(
            "echo", QuoteString(ZRAM_OVERRIDE.rstrip("\n")), ">", QuoteString(target),
        )
    for swap in state["active"]:
        if swap["name"] in {f"/dev/{device}" for device in devices}:
            yield StringCommand("swapoff", QuoteString(swap["name"]))
    yield "systemctl daemon-reload"


def _restore_zram(files: dict[str, str]) -> Iterator[StringCommand | str]:
    restored = dict(files)
    for path in sorted(files):
        if files[path] != ZRAM_OVERRIDE or not path.startswith(f"{ZRAM_DIRS[0]}/"):
            continue
        backup = f"{path}{UNIT_BACKUP_SUFFIX}"
        if backup in files:
            yield StringCommand("mv", QuoteString(backup), QuoteString(path))
            restored[path] = restored.pop(backup)
        else:
            yield StringCommand("rm", QuoteString(path))
            del restored[path]
    if restored == files:
        return
    yield "systemctl daemon-reload"
    for device in sorted(_zram_swap_devices(restored)):
        yield StringCommand("systemctl", "start", QuoteString(f"dev-{device}.swap"))
