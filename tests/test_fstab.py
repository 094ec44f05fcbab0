"""Property and example tests of the fstab edits of swap.off and swap.on: the commands the
operations send, built by their own generators from a fake ``swap.SwapState`` fact (as the
operation cases do) and run with bash, GNU sed and sha256sum on a temporary file."""

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyinfra.context import ctx_host, ctx_state
from pyinfra_testing.util import FakeState, create_host

from kubeprep.fstab import COMMENT_PREFIX, is_kubeprep_comment, is_swap_entry
from kubeprep.operations import swap

# The Rocky Linux 8 fstab anaconda writes (the seed shows it, swap line commented by hand).
ROCKY8_FSTAB = (
    "\n"
    "#\n"
    "# /etc/fstab\n"
    "# Created by anaconda on Mon Oct 14 02:07:12 2024\n"
    "#\n"
    "# Accessible filesystems, by reference, are maintained under '/dev/disk/'.\n"
    "# See man pages fstab(5), findfs(8), mount(8) and/or blkid(8) for more info.\n"
    "#\n"
    "# After editing this file, run 'systemctl daemon-reload' to update systemd\n"
    "# units generated from this file.\n"
    "#\n"
    "/dev/mapper/rl-root     /                       xfs     defaults        0 0\n"
    "UUID=bdd69149-c218-46ff-a880-5e4aabc970d6 /boot                   xfs     defaults        0 0\n"
    "/dev/mapper/rl-swap     none                    swap    defaults        0 0\n"
)
ROCKY8_SWAP_LINE = "/dev/mapper/rl-swap     none                    swap    defaults        0 0"


# ------------------------------------------------------------------------------ strategies

blanks = st.sampled_from([" ", "\t", "  ", " \t", "\t\t", "        "])
leading = st.sampled_from(["", "", " ", "\t", "  \t"])
trailing = st.sampled_from(["", "", " ", "\t", "   "])
swap_devices = st.sampled_from([
    "/dev/mapper/rl-swap", "UUID=9f2d7c41-58a3-4e0b-b6c2-7a1e3d5f8c90", "LABEL=swap",
    "/swapfile", "/dev/sdb2", "/swap.img", "PARTUUID=1c2b3a4d-02", "/dev/rl/swap",
])
swap_options = st.sampled_from(["defaults", "sw", "pri=10", "defaults,nofail", "discard,pri=5"])


@st.composite
def swap_lines(draw):
    """An active swap entry of any common form."""
    fields = [draw(swap_devices), draw(st.sampled_from(["none", "swap"])), "swap"]
    extra = draw(st.integers(0, 3))  # options, dump, pass: any prefix of them
    fields += [draw(swap_options), "0", draw(st.sampled_from(["0", "1"]))][:extra]
    line = draw(leading) + fields[0]
    for field in fields[1:]:
        line += draw(blanks) + field
    return line + draw(trailing)


NOT_SWAP = [
    "/dev/mapper/rl-root     /                       xfs     defaults        0 0",
    "UUID=3b1c5e0a-6d7e-4f7a-9a51-2f0c8e9d4b21 /               ext4    errors=remount-ro 0       1",
    "/dev/sdc1 /swap ext4 defaults 0 2",  # mount point named /swap
    "/dev/sdc2\tswap\text4\tdefaults\t0\t2",  # mount point named swap, type ext4
    "LABEL=swap /srv ext4 defaults 0 2",  # a label named swap
    "swap /mnt/swap xfs defaults 0 0",  # a device named swap
    "/dev/sdd1 /data xfs defaults,swap 0 0",  # options mention swap
    "/dev/sdd2 /data2 xfs swap 0 0",  # options are exactly "swap"
    "/dev/sde1 none swapfs defaults 0 0",  # swap-like types
    "/dev/sde2 none swap2 defaults 0 0",
    "/dev/sde3 none noswap defaults 0 0",
    "/dev/sde4 none Swap defaults 0 0",
    "tmpfs /tmp tmpfs size=2G,swap 0 0",
    "/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       0",
    "/swapfile none",  # too few fields to have a type
    "# /dev/mapper/rl-swap     none                    swap    defaults        0 0",
    "#/swapfile none swap sw 0 0",
    "  # UUID=9f2d7c41 none swap sw 0 0",
    COMMENT_PREFIX + "/dev/mapper/rl-swap none swap defaults 0 0",
    "# <file system> <mount point>   <type>  <options>       <dump>  <pass>",
    "#",
    "",
    " ",
    "\t",
    " \t  ",
]
other_lines = st.sampled_from(NOT_SWAP)


@st.composite
def fstabs(draw, with_swap=True):
    """(text, labels): an fstab and, per line, whether it is an active swap entry."""
    kinds = st.one_of(swap_lines().map(lambda line: (line, True)),
                      other_lines.map(lambda line: (line, False)))
    lines = draw(st.lists(kinds if with_swap else other_lines.map(lambda x: (x, False)),
                          max_size=25))
    crlf = draw(st.sampled_from(["never", "always", "mixed"]))
    text_lines = []
    for line, _ in lines:
        ending = {"never": False, "always": True}.get(crlf) or (crlf == "mixed" and draw(st.booleans()))
        text_lines.append(line + ("\r" if ending else ""))
    final_newline = draw(st.booleans())
    labels = [swap for _, swap in lines]
    if final_newline or not lines:  # "" is one empty line, as str.split("\n") sees it
        text_lines.append("")
        labels.append(False)
    return "\n".join(text_lines), labels



# Any text at all, with lines that look like kubeprep's but are not (prefix not at the start).
free_lines = st.one_of(
    other_lines, swap_lines(), st.text(alphabet=" \t#kubeprp/swa=\r", max_size=30),
    st.sampled_from([" " + COMMENT_PREFIX + "/swapfile none swap sw", "#kubeprep#/swapfile",
                     "# kubeprep# x", "x " + COMMENT_PREFIX]),
)


def _no_kubeprep_line(text: str) -> bool:
    return not any(is_kubeprep_comment(line) for line in text.split("\n"))


texts_without_kubeprep_lines = st.lists(free_lines, max_size=25).map("\n".join).filter(
    _no_kubeprep_line,
)
fstabs_without_kubeprep_lines = fstabs().filter(lambda case: _no_kubeprep_line(case[0]))
texts_with_kubeprep_lines = st.lists(
    st.one_of(free_lines, free_lines.map(lambda line: COMMENT_PREFIX + line)), max_size=25,
).map("\n".join)


# An independent reading of fstab(5): fields are separated by blanks (space or tab), a line whose
# first non-blank character is "#" is a comment, and the third field is the filesystem type.
def _is_swap_by_fields(line: str) -> bool:
    fields = [field for field in re.split(r"[ \t]+", line.rstrip("\r")) if field]
    return len(fields) >= 3 and not fields[0].startswith("#") and fields[2] == "swap"


def _swap_commented(text: str) -> str:
    """What ``swap.off`` must leave: each swap entry (by fields) behind the prefix, nothing else
    changed."""
    return "\n".join(
        COMMENT_PREFIX + line if _is_swap_by_fields(line) else line for line in text.split("\n")
    )


# ------------------------------------------------------------------ the commands really sent

Op = Callable[..., object]
needs_shell = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "sed", "sha256sum")),
    reason="runs the commands with bash, GNU sed and sha256sum",
)


_STATE = FakeState()  # one for all: making one reads every installed package's entry points


def _sent(op: Op, text: str, fstab: Path) -> list[str]:
    """The commands ``op`` sends to a host whose ``fstab`` reads ``text`` and has no active swap:
    the operation's own generator on a fake ``swap.SwapState`` fact."""
    fact = {"active": [], "fstab": text, "swap_target": "static", "units": [],
            "unit_backups": {}, "zram": {}}
    host = create_host(_STATE, facts={"swap.SwapState": {f"fstab={fstab}": fact}})
    with ctx_state.use(_STATE), ctx_host.use(host):
        commands = list(op._inner(fstab=str(fstab)))  # type: ignore[attr-defined]
    return [command if isinstance(command, str) else command.get_raw_value()
            for command in commands]


def _edit(op: Op, fstab: Path) -> list[str]:
    """Read ``fstab``, plan ``op`` on it and run the commands that edit it (the checksum-guarded
    ones); the commands that do not touch the file are returned."""
    commands = _sent(op, fstab.read_bytes().decode(), fstab)
    for command in commands:
        if "sha256sum" in command:
            subprocess.run(["bash", "-c", command], check=True)
    return [command for command in commands if "sha256sum" not in command]


def _backup(fstab: Path) -> Path:
    return fstab.with_name(fstab.name + ".kubeprep.bak")


def _fstab(directory: str, text: str) -> Path:
    fstab = Path(directory) / "fstab"
    fstab.write_bytes(text.encode())
    return fstab


# ---------------------------------------------------------------------------- properties

@given(fstabs())
def test_detection_matches_the_generated_entries(case):
    text, labels = case
    assert [is_swap_entry(line) for line in text.split("\n")] == labels
    assert [_is_swap_by_fields(line) for line in text.split("\n")] == labels


tokens = st.sampled_from(["swap", "none", "/swapfile", "UUID=ab-12", "#", "a#b", "sw", "0",
                          "ext4", "swapfs", " ", "\t", "  ", "="])


@given(st.lists(tokens, max_size=9).map("".join))
def test_detection_agrees_with_field_splitting(line):
    assert is_swap_entry(line) == _is_swap_by_fields(line)


@needs_shell
@settings(max_examples=40)
@given(fstabs())
def test_off_comments_out_exactly_the_swap_entries_and_keeps_the_original(case):
    text, _ = case
    with tempfile.TemporaryDirectory() as directory:
        fstab = _fstab(directory, text)
        rest = _edit(swap.off, fstab)
        assert fstab.read_bytes() == _swap_commented(text).encode()
        if _swap_commented(text) != text:
            assert rest == ["systemctl daemon-reload"]
            assert _backup(fstab).read_bytes() == text.encode()
        else:
            assert rest == []
            assert not _backup(fstab).exists()


@needs_shell
@settings(max_examples=25)
@given(fstabs())
def test_a_second_off_sends_nothing(case):
    text, _ = case
    with tempfile.TemporaryDirectory() as directory:
        fstab = _fstab(directory, text)
        _edit(swap.off, fstab)
        assert _sent(swap.off, fstab.read_bytes().decode(), fstab) == []


@needs_shell
@settings(max_examples=40)
@given(st.one_of(fstabs_without_kubeprep_lines.map(lambda case: case[0]),
                 texts_without_kubeprep_lines))
def test_on_undoes_off_byte_for_byte(text):
    with tempfile.TemporaryDirectory() as directory:
        fstab = _fstab(directory, text)
        _edit(swap.off, fstab)
        rest = _edit(swap.on, fstab)
        assert fstab.read_bytes() == text.encode()
        assert rest == (["systemctl daemon-reload", "swapon -a"]
                        if _swap_commented(text) != text else [])


@needs_shell
@settings(max_examples=40)
@given(texts_with_kubeprep_lines)
def test_on_only_drops_the_prefix_at_the_start_of_a_line(text):
    with tempfile.TemporaryDirectory() as directory:
        fstab = _fstab(directory, text)
        _edit(swap.on, fstab)
        assert fstab.read_bytes() == "\n".join(
            line.removeprefix(COMMENT_PREFIX) for line in text.split("\n")
        ).encode()
        if _no_kubeprep_line(text):
            assert not _backup(fstab).exists()
        else:
            assert _backup(fstab).read_bytes() == text.encode()


@needs_shell
@settings(max_examples=30)
@given(fstabs(), st.sampled_from([swap.off, swap.on]), swap_lines(), st.booleans())
def test_a_file_changed_after_the_read_is_not_edited(case, op, added, by_appending):
    """The checksum guard: the edit planned from one text does not run on another."""
    text, _ = case
    text = _swap_commented(text) if op is swap.on else text
    with tempfile.TemporaryDirectory() as directory:
        fstab = _fstab(directory, text)
        edits = [command for command in _sent(op, text, fstab) if "sha256sum" in command]
        changed = text + added if by_appending else text[1:]
        fstab.write_bytes(changed.encode())
        for command in edits:
            assert subprocess.run(["bash", "-c", command]).returncode != 0
        assert fstab.read_bytes() == changed.encode()
        assert not _backup(fstab).exists()


@needs_shell
@settings(max_examples=30)
@given(fstabs_without_kubeprep_lines, swap_lines())
def test_the_backup_stays_the_first_original(case, added):
    """off, a swap entry added by hand, off again, on: the backup is still the first text."""
    text, _ = case
    with tempfile.TemporaryDirectory() as directory:
        fstab = _fstab(directory, text)
        _edit(swap.off, fstab)
        edited = fstab.read_bytes().decode()
        by_hand = f"{edited}\n{added}\n" if edited and not edited.endswith("\n") else \
            f"{edited}{added}\n"
        fstab.write_bytes(by_hand.encode())
        _edit(swap.off, fstab)
        assert fstab.read_bytes() == _swap_commented(by_hand).encode()
        _edit(swap.on, fstab)
        assert _backup(fstab).read_bytes() == (
            text.encode() if _swap_commented(text) != text else by_hand.encode()
        )


# ------------------------------------------------------------------------------- examples

@needs_shell
def test_rocky8_fstab_only_swap_line_commented(tmp_path):
    fstab = _fstab(str(tmp_path), ROCKY8_FSTAB)
    assert _edit(swap.off, fstab) == ["systemctl daemon-reload"]
    assert fstab.read_text().split("\n")[13] == "#kubeprep# " + ROCKY8_SWAP_LINE
    assert fstab.read_text() == ROCKY8_FSTAB.replace(
        ROCKY8_SWAP_LINE, "#kubeprep# " + ROCKY8_SWAP_LINE,
    )
    assert _backup(fstab).read_text() == ROCKY8_FSTAB


@needs_shell
def test_rocky8_fstab_round_trip(tmp_path):
    fstab = _fstab(str(tmp_path), ROCKY8_FSTAB)
    _edit(swap.off, fstab)
    assert _edit(swap.on, fstab) == ["systemctl daemon-reload", "swapon -a"]
    assert fstab.read_text() == ROCKY8_FSTAB


def test_rocky8_fstab_commented_by_hand_as_in_the_seed_is_left_alone(tmp_path):
    by_hand = ROCKY8_FSTAB.replace(ROCKY8_SWAP_LINE, "# " + ROCKY8_SWAP_LINE)
    assert _sent(swap.off, by_hand, tmp_path / "fstab") == []
    assert _sent(swap.on, by_hand, tmp_path / "fstab") == []


@needs_shell
def test_rocky8_fstab_with_crlf_keeps_its_endings(tmp_path):
    crlf = ROCKY8_FSTAB.replace("\n", "\r\n")
    fstab = _fstab(str(tmp_path), crlf)
    _edit(swap.off, fstab)
    assert fstab.read_bytes() == crlf.replace(
        ROCKY8_SWAP_LINE, "#kubeprep# " + ROCKY8_SWAP_LINE,
    ).encode()


@needs_shell
def test_tab_separated_swapfile_without_dump_and_pass_nor_final_newline(tmp_path):
    fstab = _fstab(str(tmp_path), "/swapfile\tnone\tswap\tsw")
    _edit(swap.off, fstab)
    assert fstab.read_bytes() == b"#kubeprep# /swapfile\tnone\tswap\tsw"


@needs_shell
def test_prefix_not_at_the_start_of_the_line_is_kept(tmp_path):
    text = " #kubeprep# /swapfile none swap sw 0 0\n#kubeprep#/swapfile none swap sw 0 0\n"
    assert _sent(swap.on, text, tmp_path / "fstab") == []
