"""The command palette: what fits the current screen, plus a few app-wide commands.

Screens list their own commands (``palette_commands``), so the palette offers
"Restart web-1" on the dashboard and nothing about a table on the detail view.
Titles can contain container names, which are untrusted: they are shown as plain
``Content`` with our own highlighting, never through Textual's markup-parsing
highlighter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry. ``help`` is our own text (the palette renders it as markup)."""

    title: str
    help: str
    run: Callable[[], object]


@runtime_checkable
class OffersCommands(Protocol):
    """A screen (or the app) that contributes palette entries."""

    def palette_commands(self) -> Iterable[PaletteCommand]: ...


def highlight(matcher: Matcher, candidate: str) -> Content:
    """Like ``Matcher.highlight`` but without parsing ``candidate`` as markup."""
    content = Content(candidate)
    score, offsets = matcher.fuzzy_search.match(matcher.query, candidate)
    if not score:
        return content
    for offset in offsets:
        if not candidate[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class OpsuiCommands(Provider):
    """Offers the current screen's commands and the app's."""

    def _commands(self) -> list[PaletteCommand]:
        commands: list[PaletteCommand] = []
        for source in (self.screen, self.app):
            if isinstance(source, OffersCommands):
                commands.extend(source.palette_commands())
        return commands

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(Content(command.title), command.run, text=command.title,
                               help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, highlight(matcher, command.title), command.run,
                          text=command.title, help=command.help)
