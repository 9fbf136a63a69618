"""README.ko.md stays in step with README.md: the same two commands at the top, the same python code
(which tests/examples/test_typing.py type-checks in README.md, so identical blocks are checked too), the
same configuration fields with the same defaults, and the same sections."""

from __future__ import annotations

import re
from pathlib import Path

from tests.examples.test_readme import README, configuration_ranges, python_blocks

README_KO = README.with_name("README.ko.md")
FENCE = re.compile(r"^```.*?^```", flags=re.S | re.M)


def _read(path: Path = README) -> str:
    return path.read_text(encoding="utf-8")


def _sections(markdown: str) -> list[str]:
    """The ``## `` sections of a markdown text, each from its heading line to the next (code blocks
    left out, so a ``##`` inside one is no heading)."""
    prose = FENCE.sub("", markdown)
    return re.split(r"^(?=## )", prose, flags=re.M)[1:]


def _config_rows(section: str) -> dict[str, str]:
    """Field name -> its default cell, for the table rows whose first cell starts with a backquoted
    name (a row naming two fields gives both the same cell)."""
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            names, default = line.split("|")[1:3]
            for name in re.findall(r"`(\w+)`", names):
                rows[name] = default.strip()
    return rows


def _config_index() -> int:
    """Where README.md's configuration section is; README.ko.md has its own at the same place."""
    headings = [s.splitlines()[0] for s in _sections(_read())]
    return headings.index("## Configuration")


def test_it_starts_with_readme_s_two_commands_then_links_back_to_the_english_readme():
    en, ko = _read(), _read(README_KO)
    en_top, ko_top = FENCE.search(en), FENCE.search(ko)
    assert en_top and ko_top, "no code block in one of the READMEs"
    assert en_top.group(0).startswith("```bash\n") and ko_top.group(0) == en_top.group(0)
    before = ko[:ko_top.start()].strip()
    assert re.fullmatch(r"# [^\n]+", before), (
        f"README.ko.md has more than a title before its commands: {before!r}")
    after = ko[ko_top.end():].lstrip("\n").splitlines()[0]
    assert "[English](README.md)" in after, f"the line after the commands is {after!r}"


def test_its_python_blocks_are_readme_s_in_the_same_order():
    en, ko = python_blocks(_read()), python_blocks(_read(README_KO))
    assert len(ko) == len(en), f"README.md has {len(en)} python blocks, README.ko.md {len(ko)}"
    for i, (a, b) in enumerate(zip(en, ko, strict=True)):
        assert a == b, f"python block {i + 1} differs from README.md's"


def test_its_configuration_table_lists_the_same_fields_with_the_same_defaults():
    index = _config_index()
    en = _config_rows(_sections(_read())[index])
    ko = _config_rows(_sections(_read(README_KO))[index])
    assert len(en) > 10, "README.md's configuration table was not found"
    assert set(ko) == set(en), (
        f"only in README.md: {sorted(set(en) - set(ko))}; only in README.ko.md: {sorted(set(ko) - set(en))}")
    assert ko == en, {name: (en[name], ko[name]) for name in en if en[name] != ko[name]}


def test_its_configuration_table_gives_the_same_ranges():
    index = _config_index()
    en = configuration_ranges(_sections(_read())[index])
    ko = configuration_ranges(_sections(_read(README_KO))[index])
    assert any(en.values()), "README.md's configuration table gives no range"
    assert ko == en, {name: (en[name], ko.get(name)) for name in en if en[name] != ko.get(name)}


def test_it_has_as_many_second_level_sections_as_readme():
    en, ko = _sections(_read()), _sections(_read(README_KO))
    assert len(ko) == len(en), (
        f"README.md has {len(en)} '## ' headings, README.ko.md {len(ko)}")
