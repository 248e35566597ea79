"""Key remapping from ``[keys]`` in opsui.toml, by binding id.

Textual's keymap silently ignores ids it does not know, takes any string as a key name
and lets a remapped key silently shadow another binding, so a typo in opsui.toml
would leave the operator pressing a key that does nothing, or the wrong thing.
:func:`keymap_problems` finds all three; ``opsui check-config`` and the start of the
dashboard refuse such a keymap (see :mod:`opsui.ui.config_check`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import REPLACED_KEYS, Keys, _normalize_key_list, key_to_character


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


MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
_NAMED_KEYS = frozenset(k.value.rpartition("+")[2] for k in Keys)


def normalize_keys(keys: str) -> list[str]:
    """A ``[keys]`` value as Textual reads it: comma separated, ``/`` as ``slash``."""
    return [k for k in _normalize_key_list(keys).split(",")]


def key_name_problem(key: str) -> str | None:
    """Why ``key`` (one normalised key, such as ``ctrl+r``) is no key a terminal sends,
    or None when it is one. Textual accepts any string and it then never fires."""
    if not key:
        return "an empty key name (two commas, or a trailing one)"
    *modifiers, base = key.split("+")
    unknown = [m for m in modifiers if m not in MODIFIERS]
    if unknown:
        return f"'{unknown[0]}' is not a modifier ({', '.join(sorted(MODIFIERS))})"
    if len(base) == 1:
        return None if base.isprintable() else f"{base!r} is not a printable key"
    if base in _NAMED_KEYS or _printable(base) or _printable(REPLACED_KEYS.get(base)):
        return None
    return f"'{base}' is not a key name"


def _printable(name: str | None) -> bool:
    """``name`` is the Unicode name of a printable character (``ampersand``)."""
    character = key_to_character(name) if name else None
    return character is not None and character.isprintable()


@dataclass(frozen=True)
class KeymapProblem:
    """One ``[keys]`` entry that would not do what it says."""

    binding_id: str
    expected: str
    """What it should be, and why it is not."""


def keymap_problems(keymap: Mapping[str, str], classes: Sequence[type[DOMNode]],
                    app_class: type[DOMNode],
                    hosted_in: Mapping[type[DOMNode], type[DOMNode]] | None = None
                    ) -> list[KeymapProblem]:
    """Unknown ids, keys no terminal sends, and keys a remap takes from another binding.

    Two bindings clash when the same key reaches both on one screen: in one class, in a
    class and the app (the app's keys work on every screen), or in a widget and the
    screen it lives on (``hosted_in``). Bindings that already share a key by default
    (``escape`` cancels or leaves, whichever applies) are not a clash.
    """
    problems: list[KeymapProblem] = []
    known = binding_ids(classes)
    for binding_id in unknown_binding_ids(keymap, known):
        problems.append(KeymapProblem(binding_id, "a binding id opsui has (they are listed "
                                      "under \"Screens and keys\" in the README)"))
    remapped: dict[str, list[str]] = {}
    for binding_id, keys in keymap.items():
        if binding_id not in known:
            continue
        wanted = normalize_keys(keys)
        bad = next((p for p in map(key_name_problem, wanted) if p is not None), None)
        if bad is not None:
            problems.append(KeymapProblem(binding_id, f"key names such as ctrl+r, slash, "
                                          f"f5 or a character ({bad})"))
        else:
            remapped[binding_id] = wanted
    seen: set[tuple[str, str]] = set()
    for cls in classes:
        layers = [cls, *([hosted_in[cls]] if hosted_in and cls in hosted_in else []),
                  *([app_class] if cls is not app_class else [])]
        for binding_id, key, other in _clashes(layers, remapped):
            if (binding_id, key) not in seen:
                seen.add((binding_id, key))
                problems.append(KeymapProblem(
                    binding_id, f"a key no other binding has ('{key}' is already the key "
                    f"of {other} on {cls.__name__}: pick another, or remap {other} too)"))
    return problems


def _clashes(layers: Sequence[type[DOMNode]], remapped: Mapping[str, list[str]]
             ) -> list[tuple[str, str, str]]:
    """(remapped id, key, the other binding) for each key two bindings would share."""
    defaults: dict[str, set[str]] = {}  # binding (id or action) -> its default keys
    names: list[str] = []
    for cls in layers:
        for key, binding in cls._merge_bindings():
            name = binding.id or f"{cls.__name__}'s '{binding.action}'"
            if name not in defaults:
                names.append(name)
            defaults.setdefault(name, set()).add(key)
    effective = {name: set(remapped.get(name, defaults[name])) for name in names}
    found: list[tuple[str, str, str]] = []
    for binding_id in remapped:
        for key in sorted(effective.get(binding_id, ())):
            for other in names:
                if other == binding_id or key not in effective[other]:
                    continue
                if key in defaults.get(binding_id, set()) and key in defaults[other]:
                    continue  # they shared it before the remap: by design
                found.append((binding_id, key, other))
    return found
