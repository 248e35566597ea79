"""Key remapping from ``[keys]`` in opsui.toml, by binding id.

Textual's keymap silently ignores ids it does not know, so a typo in opsui.toml
would leave the operator pressing a key that does nothing. The app checks the
configured ids against every binding id opsui defines and reports the unknown ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.binding import Binding
from textual.dom import DOMNode


def binding_ids(classes: Iterable[type[DOMNode]]) -> dict[str, Binding]:
    """Every binding with an id on these classes (their bases included), by id."""
    found: dict[str, Binding] = {}
    for cls in classes:
        for _key, binding in cls._merge_bindings():
            if binding.id:
                found.setdefault(binding.id, binding)
    return found


def unknown_binding_ids(keymap: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """Ids in the configured keymap that no opsui binding has, sorted."""
    known_ids = set(known)
    return sorted(binding_id for binding_id in keymap if binding_id not in known_ids)
