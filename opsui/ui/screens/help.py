"""The help screen (``?`` / ``F1``): the keys that work where the operator is, by id.

An operator in an incident should not have to remember opsui's keys, nor open the
palette to find them. This screen lists the bindings of the screen underneath (those
of the focused widget first, then the screen's, then the app's), each with the id to
remap it by in opsui.toml ``[keys]`` and its tooltip. A key remapped there is shown
as remapped, so the screen never teaches a key that no longer works. Everything is
drawn as ``Text``: descriptions are ours, but they name keys like ``[`` that markup
would eat.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.keys import format_key
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

_NAMES = {"enter": "enter"}
"""Key names said as words where Textual would draw a symbol an operator may not read."""


@dataclass(frozen=True)
class KeyRow:
    """One key of the help screen."""

    key: str
    """As the operator types it now (after any remap)."""
    binding_id: str
    description: str
    default_key: str | None = None
    """The key before the opsui.toml remap; None when the key is not remapped."""


@dataclass(frozen=True)
class KeyGroup:
    """The keys one part of the screen (a widget, the screen, the app) answers."""

    title: str
    rows: tuple[KeyRow, ...]


def key_text(key: str) -> str:
    """``question_mark`` as ``?``, ``ctrl+b`` as ``ctrl+b``: what is on the keyboard."""
    return "+".join(_NAMES.get(part) or (format_key(part) if len(part) > 1 else part)
                    for part in key.split("+"))


def _title(node: DOMNode, screen: Screen[object]) -> str:
    if isinstance(node, App):
        return "Everywhere"
    if node is screen:
        return f"This screen ({type(node).__name__.removesuffix('Screen') or 'Screen'})"
    return f"In {type(node).__name__}"


def key_groups(screen: Screen[object], defaults: Mapping[str, Binding],
               remapped: Iterable[str]) -> list[KeyGroup]:
    """The keys ``screen`` answers now, grouped by where they are bound, innermost first.

    ``defaults``: every binding by id as declared (before the keymap); ``remapped``:
    the ids the app's keymap changed. A key bound twice is listed where it takes
    effect (the innermost binding), as Textual dispatches it.
    """
    moved = set(remapped)
    seen: set[str] = set()
    groups: list[KeyGroup] = []
    for node, bindings in screen._modal_binding_chain:
        rows: list[KeyRow] = []
        for key, binding in bindings:
            if key in seen or (not binding.id and not binding.description):
                continue
            if screen.app._check_action_state(binding.action, node) is False:
                continue  # hidden by the screen's check_action: the key does nothing here
            seen.add(key)
            default = defaults.get(binding.id or "")
            was = key_text(default.key) if (default is not None and binding.id in moved
                                            and default.key != binding.key) else None
            rows.append(KeyRow(key_text(key), binding.id or "",
                               binding.tooltip or binding.description, was))
        if rows:  # opsui's own keys first; Textual's (no id: not remappable) after them
            rows.sort(key=lambda row: not row.binding_id)
            groups.append(KeyGroup(_title(node, screen), tuple(rows)))
    # Shown with the screen's keys first: they are what the operator came for.
    return sorted(groups, key=lambda group: not group.title.startswith("This screen"))


def help_text(groups: list[KeyGroup]) -> Table:
    """One table of plain ``Text`` cells (never markup): key, id, what it does."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(ratio=1)
    for index, group in enumerate(groups):
        if index:
            table.add_row("")
        table.add_row(Text(group.title, style="bold underline"))
        for row in group.rows:
            key = Text(row.key, style="bold")
            if row.default_key is not None:
                key.append(f" (was {row.default_key})", style="italic")
            description = Text(row.description)
            if row.default_key is not None:
                description = Text.assemble(("remapped in [keys]. ", "italic"), description)
            table.add_row(key, Text(row.binding_id, style="dim"), description)
    return table


class HelpScreen(ModalScreen[None]):
    """The keys of the screen underneath; ``esc``, ``?``, ``F1`` or ``q`` close it."""

    BINDINGS = [
        Binding("escape,question_mark,f1,q", "close", "Close", id="help.close",
                tooltip="Close the help and go back to where you were."),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    #help-dialog {
        width: 90%;
        max-width: 130;
        height: 90%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    #help-title {
        text-style: bold;
        margin-bottom: 1;
    }
    #help-keys {
        height: 1fr;
    }
    """

    def __init__(self, groups: list[KeyGroup]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static(Text("Keys here — remap any by its id in opsui.toml [keys] · "
                              "esc closes"), id="help-title")
            with VerticalScroll(id="help-keys"):
                yield Static(help_text(self.groups), id="help-table")

    def action_close(self) -> None:
        self.dismiss(None)
