"""Textual's Footer without its leak: the keys of every recompose kept for good (issue 16).

Each ``FooterKey`` binds its ``compact`` to the footer's (``data_bind``), which adds the
key to the footer's watchers; Textual drops the watchers of removed keys only when
``compact`` changes, which it never does here. The dashboard's footer lives as long as
the app and recomposes whenever the keys change (a screen closed, the focus moved), so
every old key stayed alive with its styles and caches: ~100 keys and 8 000 objects per
log pane opened and closed. After a recompose, the watchers of removed keys are dropped.

And one recompose per frame: Textual queues one for every change of the keys, and a
launch or a screen switch changes them several times in one frame (the focus set, the
screen's bindings, the app's), each rebuilding ~20 keys with their styles (issue 14:
four rebuilds right after the first frame, while the operator's first key waits).
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """The key bar at the bottom of a screen that stays (the dashboard)."""

    _recompose_queued = False

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Textual's, with the recompose queued once however many changes come before it
        runs; it reads the keys when it runs, so it shows the last of them."""
        self._bindings_ready = True
        if not screen.app.app_focus or self._recompose_queued:
            return
        if self.is_attached and screen is self.screen:
            self._recompose_queued = True
            self.call_after_refresh(self._queued_recompose)

    async def _queued_recompose(self) -> None:
        self._recompose_queued = False
        keys = self._keys_shown()
        if keys == self._keys_composed:  # a host switch asks again for the same keys
            return
        await self.recompose()

    _keys_composed: tuple[object, ...] | None = None

    def _keys_shown(self) -> tuple[object, ...]:
        """What ``compose`` builds the keys from: equal tuples give the same footer."""
        return tuple((binding.key, binding.action, binding.description, binding.group,
                      enabled, tooltip)
                     for _, binding, enabled, tooltip in self.screen.active_bindings.values()
                     if binding.show)

    async def recompose(self) -> None:
        await super().recompose()
        self._keys_composed = self._keys_shown() if self._bindings_ready else None
        self._forget_removed_keys()

    def _forget_removed_keys(self) -> None:
        # Textual (8.x) keeps a node's watchers in its "__watchers" attribute:
        # {attribute: [(watching node, callback), ...]}.
        watchers: dict[str, list[tuple[object, object]]] = getattr(self, "__watchers", {})
        for entries in watchers.values():
            entries[:] = [(node, callback) for node, callback in entries
                          if getattr(node, "is_attached", True)]
