"""The README's key table is the reference for ``[keys]`` in opsui.toml: every binding
id opsui has is in it with its default key(s), and every id in it is one opsui has.

The table was kept by hand, so a new binding, a renamed id or a changed key went
unnoticed; an operator remapping an id from it got "unknown binding id" instead.
Keys are written as a user reads them: ``esc``, ``/``, ``?``, ``F1``, ``ctrl+r``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from textual.keys import REPLACED_KEYS, key_to_character

from opsui.ui.app import OpsuiApp

README = Path(__file__).resolve().parents[2] / "README.md"
HEADER = "| key | binding id | action |"
SHOWN_AS = {"escape": "esc", "space": "space", "enter": "enter"}
"""Key names the README writes as words rather than as the character they type."""


def shown(key: str) -> str:
    """A Textual key name as the README writes it: ``question_mark`` is ``?``,
    ``escape`` is ``esc``, ``f1`` is ``F1``; ``ctrl+r`` and letters stay as they are."""
    if key in SHOWN_AS or len(key) == 1 or "+" in key:
        return SHOWN_AS.get(key, key)
    if re.fullmatch(r"f\d+", key):
        return key.upper()
    character = key_to_character(REPLACED_KEYS.get(key, key))
    return character if character is not None and len(character) == 1 else key


def app_keys() -> dict[str, set[str]]:
    """Every binding id of the classes ``[keys]`` may remap, with its default keys."""
    found: dict[str, set[str]] = defaultdict(set)
    for cls in OpsuiApp.bound_classes():
        for key, binding in cls._merge_bindings():
            if binding.id:
                found[binding.id].add(shown(key))
    return dict(found)


def _ticked(cell: str) -> list[list[str]]:
    """``a` / `b`, `c``` as [[a], [b, c]]: ``/`` between ticks separates alternatives
    that pair with the other column, ``,`` lists ids that share the same key."""
    groups: list[list[str]] = [[]]
    for token in re.finditer(r"`([^`]+)`|(/)", cell):
        if token.group(1) is not None:
            groups[-1].append(token.group(1))
        elif groups[-1]:
            groups.append([])
    return groups


def table_keys() -> dict[str, set[str]]:
    """The key table: binding id -> the keys the README gives it.

    ``a` / `b` | `x` / `y`` pairs a with x and b with y; one key for several ids gives
    it to each (``ctrl+r`` for two refreshes), several keys for one id give it all
    (``?`` / ``F1``)."""
    lines = README.read_text().splitlines()
    start = lines.index(HEADER) + 2
    found: dict[str, set[str]] = defaultdict(set)
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        key_cell, id_cell = line.split(" | ")[:2]
        keys = [k for group in _ticked(key_cell.lstrip("| ")) for k in group]
        id_groups = _ticked(id_cell)
        if len(keys) == len(id_groups) > 1:
            pairs = [([key], ids) for key, ids in zip(keys, id_groups, strict=True)]
        else:
            pairs = [(keys, [i for group in id_groups for i in group])]
        for pair_keys, ids in pairs:
            for binding_id in ids:
                found[binding_id].update(pair_keys)
    return dict(found)


def test_the_table_is_found_and_read() -> None:
    table = table_keys()
    assert table["dashboard.filter"] == {"/"}
    assert table["app.help"] == {"?", "F1"}
    assert table["backups.download_cancel"] == {"esc"}


def test_every_binding_id_is_in_the_readme_with_its_keys() -> None:
    table = table_keys()
    missing = sorted(set(app_keys()) - set(table))
    assert missing == [], "binding ids missing from the README's key table"
    wrong = {binding_id: (table[binding_id], keys) for binding_id, keys in app_keys().items()
             if table[binding_id] != keys}
    assert wrong == {}, "README keys (left) differ from the bindings' keys (right)"


def test_every_id_in_the_readme_is_a_binding_id() -> None:
    unknown = sorted(set(table_keys()) - set(app_keys()))
    assert unknown == [], "ids in the README's key table that no binding has"
