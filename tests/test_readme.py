"""The README against the code: its key table against kubeprep/keys.py, its size, its tables'
width, its links."""

import ast
import re

import test_settings
from test_settings import ROOT, readme_data_keys

from kubeprep.keys import DECLARED, PerRole

README = ROOT / "README.md"
KEYS = {key.name: key for key in DECLARED}


def readme_key_rows(tmp_path, monkeypatch) -> dict[str, list[str]]:
    """The README's "Data keys" table, read by the parser of docs/data-keys.md's table (it reads
    ROOT/docs/data-keys.md, so ROOT is pointed at a folder where that file is the README)."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "data-keys.md").write_text(README.read_text(encoding="utf-8"),
                                                    encoding="utf-8")
    monkeypatch.setattr(test_settings, "ROOT", tmp_path)
    return readme_data_keys()


def test_readme_key_table_has_declared_keys_in_their_order(tmp_path, monkeypatch):
    rows = readme_key_rows(tmp_path, monkeypatch)
    assert len(rows) >= 5
    assert set(rows) <= set(KEYS)
    assert list(rows) == [name for name in KEYS if name in rows]


def test_readme_key_table_has_the_declared_defaults(tmp_path, monkeypatch):
    for name, (default, _what_for) in readme_key_rows(tmp_path, monkeypatch).items():
        key = KEYS[name]
        if isinstance(key.default, PerRole):
            assert default.startswith("per role"), name
        elif key.inventory:
            assert default == "(host data)", name
        else:
            assert ast.literal_eval(default.strip("`")) == key.default, name


def test_readme_is_under_10_kb():
    assert len(README.read_bytes()) < 10_000


def rendered(markdown: str) -> str:
    """Text as a reader sees it: links as their text, no backticks or bold marks."""
    text = re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", markdown)
    return text.replace("`", "").replace("**", "")


def test_readme_table_rows_fit_two_lines():
    """A row of at most 180 characters wraps to at most two lines of a 100-column page."""
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            assert len(rendered(" ".join(cells))) <= 180, line


def test_readme_links_point_at_files_that_exist():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link]
    assert local
    for link in local:
        assert (ROOT / link).exists(), link
