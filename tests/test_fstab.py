"""Property and example tests for kubeprep.fstab, the edit behind swap.off."""

import hashlib
import re
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeprep.fstab import (
    COMMENT_PREFIX,
    comment_swap_entries,
    is_kubeprep_comment,
    is_swap_entry,
    swap_entries,
    uncomment_kubeprep_entries,
)

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


# ---------------------------------------------------------------------------- properties

@given(fstabs())
def test_detection_matches_the_generated_entries(case):
    text, labels = case
    assert [is_swap_entry(line) for line in text.split("\n")] == labels


@given(fstabs())
def test_other_lines_unchanged_and_swap_lines_commented(case):
    text, labels = case
    before, after = text.split("\n"), comment_swap_entries(text).split("\n")
    assert len(after) == len(before)
    for old, new, swap in zip(before, after, labels, strict=True):
        assert new == (COMMENT_PREFIX + old if swap else old)


@given(fstabs())
def test_no_swap_entry_left(case):
    text, _ = case
    assert swap_entries(comment_swap_entries(text)) == []


@given(fstabs())
def test_idempotent(case):
    text, _ = case
    once = comment_swap_entries(text)
    assert comment_swap_entries(once) == once


@given(fstabs())
def test_line_count_and_endings_unchanged(case):
    text, _ = case
    result = comment_swap_entries(text)
    assert result.count("\n") == text.count("\n")
    assert result.count("\r") == text.count("\r")
    assert result.endswith("\n") == text.endswith("\n")


@given(fstabs(with_swap=False))
def test_text_without_swap_entries_unchanged(case):
    text, _ = case
    assert swap_entries(text) == []
    assert comment_swap_entries(text) == text


# An independent reading of fstab(5): fields are separated by blanks (space or tab), a line whose
# first non-blank character is "#" is a comment, and the third field is the filesystem type.
def _is_swap_by_fields(line: str) -> bool:
    fields = [field for field in re.split(r"[ \t]+", line.rstrip("\r")) if field]
    return len(fields) >= 3 and not fields[0].startswith("#") and fields[2] == "swap"


tokens = st.sampled_from(["swap", "none", "/swapfile", "UUID=ab-12", "#", "a#b", "sw", "0",
                          "ext4", "swapfs", " ", "\t", "  ", "="])


@given(st.lists(tokens, max_size=9).map("".join))
def test_detection_agrees_with_field_splitting(line):
    assert is_swap_entry(line) == _is_swap_by_fields(line)


@pytest.mark.skipif(not (shutil.which("sed") and shutil.which("sha256sum")),
                    reason="needs GNU sed and sha256sum")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fstabs())
def test_swap_off_sed_edit_matches_comment_swap_entries(tmp_path, case):
    """The checksum-guarded sed that swap.off runs writes exactly comment_swap_entries(text)."""
    text, labels = case
    fstab = tmp_path / "fstab"
    fstab.write_bytes(text.encode())
    numbers = [number for number, swap in enumerate(labels, 1) if swap]
    prefix = COMMENT_PREFIX.replace("#", "\\#")
    edits = " ".join(f"-e '{number}s/^/{prefix}/'" for number in numbers)
    checksum = hashlib.sha256(text.encode()).hexdigest()
    script = (f"echo '{checksum}  {fstab}' | sha256sum --check --status && "
              f"sed -i.kubeprep.bak {edits} '{fstab}'")
    if numbers:
        subprocess.run(["bash", "-c", script], check=True)
    assert fstab.read_bytes().decode() == comment_swap_entries(text)


# --------------------------------------------------------------------- the inverse: swap.on

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


@given(texts_without_kubeprep_lines)
def test_uncomment_inverts_comment(text):
    assert uncomment_kubeprep_entries(comment_swap_entries(text)) == text


@given(texts_without_kubeprep_lines)
def test_uncomment_leaves_text_without_kubeprep_lines_alone(text):
    assert uncomment_kubeprep_entries(text) == text


@given(fstabs_without_kubeprep_lines)
def test_uncomment_restores_every_swap_entry(case):
    text, _ = case
    assert swap_entries(uncomment_kubeprep_entries(comment_swap_entries(text))) == swap_entries(text)


@given(st.lists(st.one_of(free_lines, free_lines.map(lambda line: COMMENT_PREFIX + line)),
                max_size=25).map("\n".join))
def test_uncomment_only_drops_the_prefix(text):
    before, after = text.split("\n"), uncomment_kubeprep_entries(text).split("\n")
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        assert new == (old[len(COMMENT_PREFIX):] if old.startswith(COMMENT_PREFIX) else old)


@pytest.mark.skipif(not (shutil.which("sed") and shutil.which("sha256sum")),
                    reason="needs GNU sed and sha256sum")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fstabs_without_kubeprep_lines)
def test_swap_on_sed_edit_matches_uncomment(tmp_path, case):
    """The sed that swap.on runs on a fstab swap.off edited gives back the original text."""
    text, _ = case
    commented = comment_swap_entries(text)
    fstab = tmp_path / "fstab"
    fstab.write_bytes(commented.encode())
    numbers = [n for n, line in enumerate(commented.split("\n"), 1) if is_kubeprep_comment(line)]
    edits = " ".join(f"-e '{number}s/^{COMMENT_PREFIX}//'" for number in numbers)
    checksum = hashlib.sha256(commented.encode()).hexdigest()
    if numbers:
        subprocess.run(["bash", "-c", f"echo '{checksum}  {fstab}' | sha256sum --check --status"
                                      f" && sed -i {edits} '{fstab}'"], check=True)
    assert fstab.read_bytes().decode() == uncomment_kubeprep_entries(commented) == text


# ------------------------------------------------------------------------------- examples

def test_rocky8_fstab_swap_line_is_found():
    assert swap_entries(ROCKY8_FSTAB) == [ROCKY8_SWAP_LINE]


def test_rocky8_fstab_only_swap_line_commented():
    expected = ROCKY8_FSTAB.replace(ROCKY8_SWAP_LINE, "#kubeprep# " + ROCKY8_SWAP_LINE)
    assert comment_swap_entries(ROCKY8_FSTAB) == expected
    assert comment_swap_entries(ROCKY8_FSTAB).split("\n")[13] == "#kubeprep# " + ROCKY8_SWAP_LINE


def test_rocky8_fstab_commented_by_hand_as_in_the_seed_is_left_alone():
    by_hand = ROCKY8_FSTAB.replace(ROCKY8_SWAP_LINE, "# " + ROCKY8_SWAP_LINE)
    assert swap_entries(by_hand) == []
    assert comment_swap_entries(by_hand) == by_hand


def test_rocky8_fstab_with_crlf_keeps_its_endings():
    crlf = ROCKY8_FSTAB.replace("\n", "\r\n")
    assert comment_swap_entries(crlf) == crlf.replace(
        ROCKY8_SWAP_LINE, "#kubeprep# " + ROCKY8_SWAP_LINE,
    )


def test_tab_separated_swapfile_without_dump_and_pass():
    assert comment_swap_entries("/swapfile\tnone\tswap\tsw") == "#kubeprep# /swapfile\tnone\tswap\tsw"


def test_rocky8_fstab_round_trip():
    assert uncomment_kubeprep_entries(comment_swap_entries(ROCKY8_FSTAB)) == ROCKY8_FSTAB


def test_prefix_not_at_the_start_of_the_line_is_kept():
    text = " #kubeprep# /swapfile none swap sw 0 0\n#kubeprep#/swapfile none swap sw 0 0"
    assert uncomment_kubeprep_entries(text) == text
