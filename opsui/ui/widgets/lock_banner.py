"""The dashboard's banner: apps whose deploys are frozen or locked, or left half done.

A freeze (``opsui lock web -m incident``) or another operator's running deploy holds the
app's lock on the host; opsui never waits on it, so everyone must see it. An
interrupted release (opsui killed mid-deploy) needs a decision: finish it or roll it
back (F / B on the dashboard). The lines are built from
:class:`~opsui.domain.operations.app_releases.AppStatus` in the polling worker; every
field is host text, already cleaned by the domain, and is drawn as ``Text``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from opsui.ui.palette import Palette

if TYPE_CHECKING:  # the release facade loads with the first poll, after the first frame
    from opsui.domain.operations.app_releases import AppStatus
    from opsui.domain.operations.app_spec import AppSpec


@dataclass(frozen=True)
class BannerItem:
    """One line of the banner."""

    app: str
    text: str
    interrupted: bool = False
    """A release nobody is making any more: F finishes it, B rolls it back."""
    spec: AppSpec | None = None
    """The resolved app, so a recovery does not resolve it again."""


def banner_items(statuses: Iterable[AppStatus]) -> list[BannerItem]:
    """What the banner says about these apps (nothing for an app at rest)."""
    from opsui.domain.operations.app_releases import ACTIVE_RELEASES

    items: list[BannerItem] = []
    for status in statuses:
        name = status.app.name
        interrupted = status.interrupted
        lock = status.lock
        if interrupted is not None:
            last = interrupted.steps[-1].name if interrupted.steps else "its start"
            what = f"{interrupted.action} of {interrupted.version}" if interrupted.version \
                else interrupted.action
            items.append(BannerItem(
                name, f"⚠ {name}: release {interrupted.id} ({what} by {interrupted.who}) was "
                f"interrupted after '{last}': finish (F) / roll back (B)", True, status.app))
        elif lock is not None and not (lock.release and lock.release in ACTIVE_RELEASES):
            # A deploy this opsui makes shows on its own screen, not as a banner.
            if lock.manual:
                items.append(BannerItem(name, f"🔒 {name} {lock.describe()}", spec=status.app))
            else:
                items.append(BannerItem(name, f"🔒 {name} locked: {lock.describe()}",
                                        spec=status.app))
    return items


class LockBanner(Static):
    """Zero or more lines above the host panel; hidden when there is nothing to say."""

    DEFAULT_CSS = """
    LockBanner {
        height: auto;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        background: $warning-muted;
        color: $text-warning;
        text-style: bold;
    }

    LockBanner.-interrupted {
        background: $error-muted;
        color: $text-error;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: tuple[BannerItem, ...] = ()

    def on_mount(self) -> None:
        self.display = False

    def show(self, items: Sequence[BannerItem]) -> None:
        shown = tuple(items)
        if shown == self.items:
            return
        self.items = shown
        self.display = bool(shown)
        self.set_class(any(item.interrupted for item in shown), "-interrupted")
        self._draw()

    def restyle(self) -> None:
        self._draw()

    def _draw(self) -> None:
        palette = Palette.of(self.app)
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, item in enumerate(self.items):
            if index:
                text.append("\n")
            text.append(item.text, style=palette.bad if item.interrupted else palette.warn)
        self.update(text)
