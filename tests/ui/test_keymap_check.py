"""[keys] checks against the real binding classes: what they refuse and what they let be."""

from __future__ import annotations

from opsui.ui.app import OpsuiApp
from opsui.ui.config_check import HOSTED_IN
from opsui.ui.keys import key_name_problem, keymap_problems, normalize_keys


def _problems(keymap: dict[str, str]) -> dict[str, str]:
    found = keymap_problems(keymap, list(OpsuiApp.bound_classes()), OpsuiApp, HOSTED_IN)
    return {p.binding_id: p.expected for p in found}


def test_every_default_key_of_opsui_is_a_valid_key_name() -> None:
    for cls in OpsuiApp.bound_classes():
        for key, _binding in cls._merge_bindings():
            assert key_name_problem(key) is None, (cls.__name__, key)


def test_characters_are_read_as_textual_names_them() -> None:
    assert normalize_keys("/, f") == ["slash", "f"]
    assert _problems({"dashboard.filter": "/,f"}) == {}
    assert "'esc'" in _problems({"dashboard.filter": "esc"})["dashboard.filter"]


def test_a_key_taken_from_a_binding_on_the_same_screen_or_the_app_is_refused() -> None:
    problems = _problems({"container.stop": "r", "dashboard.sort": "u", "logs.save": "q"})
    assert "container.restart" in problems["container.stop"]
    assert "container.start" in problems["dashboard.sort"]  # the table sits on the dashboard
    assert "app.quit" in problems["logs.save"]  # the app's keys work on every screen
    # Moving the other binding away first makes the key free.
    assert _problems({"container.stop": "r", "container.restart": "ctrl+e"}) == {}
