"""Rich styles for cell text, taken from the active Textual theme.

DataTable cells and sidebar entries are Rich ``Text``, which cannot use CSS
variables. Rather than hard-coding colours (which would clash with a light theme
or a user theme), the styles are read from the theme's colour system, and the
widgets rebuild their cells when the theme changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.style import Style
from textual.app import App
from textual.color import Color
from textual.theme import Theme

from opsui.domain.models import ContainerState, Health, LinkState


@dataclass(frozen=True)
class Palette:
    """Semantic styles: what a colour means, not which colour it is."""

    ok: Style
    bad: Style
    warn: Style
    muted: Style
    accent: Style
    primary: Style
    strong: Style

    @classmethod
    def from_theme(cls, theme: Theme) -> Palette:
        colors = theme.to_color_system().generate()
        background = Color.parse(colors["background"])

        def fg(name: str, bold: bool = False) -> Style:
            # Theme colours may carry alpha ("#D8DEE999"); Rich wants them opaque.
            return Style(color=(background + Color.parse(colors[name])).rich_color, bold=bold)

        return cls(
            ok=fg("text-success"),
            bad=fg("text-error", bold=True),
            warn=fg("text-warning"),
            muted=fg("foreground-muted"),
            accent=fg("text-accent"),
            primary=fg("text-primary", bold=True),
            strong=Style(bold=True),
        )

    @classmethod
    def of(cls, app: App[Any]) -> Palette:
        """The palette of ``app``'s current theme (cached per theme)."""
        theme = app.current_theme
        cached = _CACHE.get(theme.name)
        if cached is None or cached[0] is not theme:
            cached = _CACHE[theme.name] = (theme, cls.from_theme(theme))
        return cached[1]

    def health(self, health: Health) -> Style:
        return {
            Health.HEALTHY: self.ok,
            Health.UNHEALTHY: self.bad,
            Health.STARTING: self.warn,
            Health.NONE: self.muted,
        }[health]

    def state(self, state: ContainerState) -> Style:
        if state is ContainerState.RUNNING:
            return self.ok
        if state in (ContainerState.RESTARTING, ContainerState.PAUSED, ContainerState.CREATED,
                     ContainerState.REMOVING):
            return self.warn
        if state is ContainerState.DEAD:
            return self.bad
        return self.muted

    def link(self, state: LinkState) -> Style:
        if state is LinkState.CONNECTED:
            return self.ok
        if state in (LinkState.CONNECTING, LinkState.RECONNECTING):
            return self.warn
        return self.bad


_CACHE: dict[str, tuple[Theme, Palette]] = {}
