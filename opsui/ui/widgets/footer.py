"""Textual's Footer without its leak: the keys of every recompose kept for good (issue 16).

Each ``FooterKey`` binds its ``compact`` to the footer's (``data_bind``), which adds the
key to the footer's watchers; Textual drops the watchers of removed keys only when
``compact`` changes, which it never does here. The dashboard's footer lives as long as
the app and recomposes whenever the keys change (a screen closed, the focus moved), so
every old key stayed alive with its styles and caches: ~100 keys and 8 000 objects per
log pane opened and closed. After a recompose, the watchers of removed keys are dropped.
"""

from __future__ import annotations

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """The key bar at the bottom of a screen that stays (the dashboard)."""

    async def recompose(self) -> None:
        await super().recompose()
        self._forget_removed_keys()

    def _forget_removed_keys(self) -> None:
        # Textual (8.x) keeps a node's watchers in its "__watchers" attribute:
        # {attribute: [(watching node, callback), ...]}.
        watchers: dict[str, list[tuple[object, object]]] = getattr(self, "__watchers", {})
        for entries in watchers.values():
            entries[:] = [(node, callback) for node, callback in entries
                          if getattr(node, "is_attached", True)]
