"""Everything that turns swap on now or after a reboot (``SwapState``): the active areas, fstab,
swap.target, the swap units and kubeprep's backups of them, zram-generator's files; the
active-swap read serves NodeReadiness too."""

from __future__ import annotations

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.command import QuoteString
from typing_extensions import TypedDict, override

from kubeprep.facts import FILE_LINE, marked_sections, printed_file

# Where a hand-written unit kubeprep masked is kept: the unit file it moved away (from
# /etc/systemd/system, where `systemctl mask` refuses to replace a file), or a symlink to the
# vendor unit file it masked.
UNIT_BACKUP_SUFFIX = ".kubeprep.bak"
UNIT_DIR = "/etc/systemd/system"

# zram-generator.conf(5): the main file (the first one found wins) and the drop-ins, each name
# taken from the first directory that has it. /run is left out: it is gone after a reboot.
ZRAM_DIRS = ("/etc/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd")
ZRAM_MAIN = "zram-generator.conf"
ZRAM_DROP_INS = "zram-generator.conf.d"

# The active swap areas; read with parse_active_swaps().
ACTIVE_SWAPS = "cat /proc/swaps"


class ActiveSwapDict(TypedDict):
    name: str
    type: str


class SwapUnitDict(TypedDict):
    id: str
    load: str
    active: str
    file_state: str
    fragment: str


class SwapStateDict(TypedDict):
    active: list[ActiveSwapDict]
    fstab: str | None
    swap_target: str | None
    units: list[SwapUnitDict]
    unit_backups: dict[str, str]
    zram: dict[str, str]


class SwapState(FactBase[SwapStateDict]):
    """
    Returns everything that turns swap on now or after a reboot, read in one command.

    + fstab: path of the fstab to read

    ``active``: ``/proc/swaps``; ``fstab``: the exact text of the fstab (``None`` without one);
    ``swap_target``: ``systemctl is-enabled swap.target`` (``None`` without systemd); ``units``:
    every ``.swap`` unit file systemd knows, with its state and the file it was loaded from;
    ``unit_backups``: the units kubeprep masked, ``file`` (moved away) or ``link`` (vendor unit);
    ``zram``: the zram-generator config files (and kubeprep's backups of them) with their text.

    .. code:: python

        {
            "active": [{"name": "/dev/zram0", "type": "partition"}],
            "fstab": "UUID=3b1c5e0a... / xfs defaults 0 0\\n",
            "swap_target": "static",
            "units": [{
                "id": "dev-zram0.swap", "load": "loaded", "active": "active",
                "file_state": "generated",
                "fragment": "/run/systemd/generator/dev-zram0.swap",
            }],
            "unit_backups": {},
            "zram": {"/usr/lib/systemd/zram-generator.conf": "[zram0]\\n..."},
        }
    """

    @override
    @staticmethod
    def default() -> SwapStateDict:
        return {
            "active": [], "fstab": None, "swap_target": None, "units": [], "unit_backups": {},
            "zram": {},
        }

    @override
    def command(self, fstab: str = "/etc/fstab") -> StringCommand:
        zram_files = " ".join(
            [f"{directory}/{ZRAM_MAIN}" for directory in ZRAM_DIRS]
            + [f"{ZRAM_DIRS[0]}/{ZRAM_MAIN}{UNIT_BACKUP_SUFFIX}"]
            + [f"{directory}/{ZRAM_DROP_INS}/*.conf" for directory in ZRAM_DIRS]
            + [f"{ZRAM_DIRS[0]}/{ZRAM_DROP_INS}/*.conf{UNIT_BACKUP_SUFFIX}"],
        )
        # The newline printed after a file makes a missing final newline visible.
        return StringCommand(
            f"{ACTIVE_SWAPS};",
            "echo '--- fstab'; if [ -f", QuoteString(fstab), "]; then",
            f"sed 's/^/{FILE_LINE}/'", QuoteString(fstab), "; echo; fi;",
            "echo '--- swap.target'; systemctl is-enabled swap.target 2>/dev/null;",
            "echo '--- units';",
            # Loaded units, plus unit files in the persistent unit directories (masked ones too).
            # Not `systemctl list-unit-files`: it reads every unit file, ~10 s on a slow VM.
            "units=$( { systemctl list-units --type=swap --all --plain --no-legend 2>/dev/null",
            "| cut -d' ' -f1; for f in /etc/systemd/system/*.swap",
            "/usr/local/lib/systemd/system/*.swap /usr/lib/systemd/system/*.swap",
            "/lib/systemd/system/*.swap;",
            'do [ -e "$f" ] || [ -L "$f" ] && echo "${f##*/}"; done; } | sort -u);',
            '[ -z "$units" ] || systemctl show',
            "-p Id,LoadState,ActiveState,FragmentPath,UnitFileState $units 2>/dev/null;",
            "echo '--- unit backups';",
            f"for f in {UNIT_DIR}/*.swap{UNIT_BACKUP_SUFFIX}; do",
            'if [ -L "$f" ]; then echo "link ${f##*/}";',
            'elif [ -f "$f" ]; then echo "file ${f##*/}"; fi; done;',
            f"for f in {zram_files}; do",
            'if [ -e "$f" ]; then echo "--- zram $f";',
            f"sed 's/^/{FILE_LINE}/' \"$f\"; echo; fi; done",
        )

    @override
    def process(self, output) -> SwapStateDict:
        fact = self.default()
        for name, lines in marked_sections(output, ""):
            if name == "":
                fact["active"] = parse_active_swaps(lines)
            elif name == "fstab":
                fact["fstab"] = printed_file(lines)
            elif name == "swap.target":
                fact["swap_target"] = lines[0].strip() if lines and lines[0].strip() else None
            elif name == "units":
                fact["units"] = _units(lines)
            elif name == "unit backups":
                for line in lines:  # "file NAME" or "link NAME"
                    kind, _, unit = line.partition(" ")
                    fact["unit_backups"][unit] = kind
            elif name.startswith("zram "):
                fact["zram"][name[5:]] = printed_file(lines) or ""
        return fact


def parse_active_swaps(lines: list[str]) -> list[ActiveSwapDict]:
    """``/proc/swaps``: each active swap area's name and type; its first line is a header."""
    swaps: list[ActiveSwapDict] = []
    for line in lines[1:]:
        fields = line.split()
        if len(fields) >= 2:
            swaps.append({"name": fields[0], "type": fields[1]})
    return swaps



def _units(lines: list[str]) -> list[SwapUnitDict]:
    """``systemctl show -p ...`` of several units: one ``Key=value`` block per unit."""
    keys = {
        "Id": "id", "LoadState": "load", "ActiveState": "active",
        "UnitFileState": "file_state", "FragmentPath": "fragment",
    }
    units: list[SwapUnitDict] = []
    block: dict[str, str] = {}
    for line in [*lines, ""]:
        key, _, value = line.partition("=")
        if key in keys:
            block[keys[key]] = value
        elif not line and block:
            unit = {name: block.get(name, "") for name in keys.values()}
            if unit["id"] and unit["id"] not in {known["id"] for known in units}:
                units.append(unit)  # type: ignore[arg-type]
            block = {}
    return units
