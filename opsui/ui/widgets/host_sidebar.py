"""The host list: each host's link state, latency and read-only badge; the chosen
host's error message and hint underneath, so "why is prod grey" needs no keypress.

Hosts in trouble come first (not connected, then with unhealthy containers), in
configuration order within each group: with twenty hosts, the one on fire is at the
top of the list, not below the fold.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist

from opsui.domain.host_clock import SKEW_SHOWN_SECONDS, skew_text
from opsui.domain.models import LinkState
from opsui.ui.format import same_text
from opsui.ui.palette import Palette
from opsui.ui.state import HostView

_STATE_SYMBOL = {
    LinkState.CONNECTED: "●",
    LinkState.CONNECTING: "◌",
    LinkState.RECONNECTING: "◌",
}


def host_prompt(view: HostView, read_only: bool, palette: Palette) -> Text:
    """Two lines: name (and badges), then state and latency in the state's colour; a
    third when the host's clock is off ours (uptimes and durations use the host's)."""
    status = view.status
    style = palette.link(status.state)
    text = Text()
    text.append(f"{_STATE_SYMBOL.get(status.state, '✗')} ", style=style)
    text.append(status.name, style=palette.strong)
    if read_only:
        text.append("  RO", style=palette.warn)
    if view.unhealthy_count:
        text.append(f"  ✗{view.unhealthy_count}", style=palette.bad)
    text.append("\n  ")
    text.append(status.state.value, style=style)
    if status.latency_ms is not None and status.state is LinkState.CONNECTED:
        text.append(f" · {status.latency_ms:.0f} ms", style=palette.muted)
    if status.clock_skew is not None and abs(status.clock_skew) > SKEW_SHOWN_SECONDS:
        text.append(f"\n  {skew_text(status.clock_skew)}", style=palette.warn)
    return text


def trouble_rank(view: HostView) -> int:
    """0: not connected (unreachable, refused key, no engine, or (re)connecting: a
    failing host that retries must not bounce down the list and back); 1: connected,
    some containers unhealthy; 2: connected and well."""
    if view.status.state is not LinkState.CONNECTED:
        return 0
    return 1 if view.unhealthy_count else 2


def trouble_first(views: list[HostView]) -> list[HostView]:
    """``views`` (in configuration order) with hosts in trouble first, stable."""
    return sorted(views, key=trouble_rank)


def host_explanation(view: HostView, palette: Palette) -> Text:
    """The chosen host's error message and what to do about it (empty when all is well)."""
    status = view.status
    text = Text()
    if status.message:
        text.append(status.message, style=palette.link(status.state))
    if status.hint:
        if text:
            text.append("\n\n")
        text.append(status.hint, style=palette.muted)
    return text


class HostOptions(OptionList):
    """The host entries, each redrawn alone when its prompt changes.

    OptionList's own ``replace_option_prompt`` forgets every entry's rendered lines and
    repaints the whole list: with twenty hosts, every ping time of the shown host
    re-rendered twenty entries, the dashboard's largest idle cost after the table."""

    def replace_prompt_in_place(self, option_id: str, prompt: Text) -> None:
        """``prompt`` for that entry; only its own lines are rendered again when it
        keeps its height (else the whole list, as its layout moves)."""
        index = self.get_option_index(option_id)
        option = self.get_option_at_index(index)
        old = option.prompt
        width = self.scrollable_content_region.width - self._get_left_gutter_width()
        height = _unwrapped_lines(prompt, width)
        if height is None or not isinstance(old, Text) or _unwrapped_lines(old, width) != height:
            self.replace_option_prompt(option_id, prompt)
            return
        option._set_prompt(prompt)
        cache = self._option_render_cache
        for key in [key for key in cache.keys() if key[0] is option]:  # noqa: SIM118 (an LRUCache has no __iter__)
            cache.discard(key)
        self.refresh_lines(self._index_to_line[index], self._heights[index])


def _unwrapped_lines(prompt: Text, width: int) -> int | None:
    """How many lines ``prompt`` takes when none wraps at ``width``; None if one does."""
    lines = prompt.plain.split("\n")
    if any(cell_len(line) > width for line in lines):
        return None
    return len(lines)


class HostSidebar(Vertical):
    """Hosts, trouble first; moving the highlight switches the table's host."""

    DEFAULT_CSS = """
    HostSidebar {
        background: $surface;
        border-right: vkey $panel;
    }

    HostSidebar #host-list {
        height: auto;
        max-height: 60%;
        border: none;
        background: $surface;
        padding: 0;
    }

    HostSidebar #host-list:focus {
        border: none;
        background-tint: $foreground 3%;
    }

    HostSidebar #host-detail {
        height: auto;
        padding: 1 1;
        border-top: hkey $panel;
    }

    HostSidebar #host-detail.-empty {
        display: none;
    }
    """

    class HostSelected(Message):
        """The operator moved to another host."""

        def __init__(self, host: str) -> None:
            super().__init__()
            self.host = host
            """The host to show."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._prompts: dict[str, Text] = {}
        """What each host's entry shows now (unchanged entries are not redrawn)."""
        self._explained: Text | None = None

    def compose(self) -> ComposeResult:
        yield HostOptions(id="host-list")
        yield Static(id="host-detail")

    @property
    def option_list(self) -> HostOptions:
        return self.query_one("#host-list", HostOptions)

    @property
    def highlighted_host(self) -> str | None:
        option = self.option_list.highlighted_option
        return option.id if option else None

    @property
    def order(self) -> list[str]:
        """Host names as listed (what ``[`` and ``]`` step through)."""
        return list(self._prompts)

    def update_hosts(self, views: list[HostView], read_only: dict[str, bool]) -> None:
        """Redraw changed host entries in place (adding missing ones), re-listing them
        when a host's trouble moves it; then the explanation."""
        views = trouble_first(views)
        if [view.name for view in views] != self.order[:len(views)] and self._prompts:
            self._relist([view.name for view in views])
        options = self.option_list
        palette = Palette.of(self.app)
        for view in views:
            prompt = host_prompt(view, read_only.get(view.name, False), palette)
            shown = self._prompts.get(view.name)
            if shown is not None and same_text(shown, prompt):
                continue
            if shown is not None:
                options.replace_prompt_in_place(view.name, prompt)
            else:
                options.add_option(Option(prompt, id=view.name))
            self._prompts[view.name] = prompt
        if options.highlighted is None and options.option_count:
            options.highlighted = 0
        self.explain(views)

    def _relist(self, names: list[str]) -> None:
        """Put the entries in ``names``' order, the highlight staying on its host."""
        options = self.option_list
        current = self.highlighted_host
        prompts = self._prompts
        self._prompts = {name: prompts[name] for name in names if name in prompts}
        options.clear_options()
        options.add_options([Option(prompt, id=name) for name, prompt in self._prompts.items()])
        if current in self._prompts:
            options.highlighted = list(self._prompts).index(current)

    def select(self, host: str) -> None:
        """Move the highlight to ``host`` (which also switches the table)."""
        options = self.option_list
        try:
            options.highlighted = options.get_option_index(host)
        except OptionDoesNotExist:  # an unknown host name: leave the highlight alone
            return

    def explain(self, views: list[HostView]) -> None:
        """Show the highlighted host's message and hint under the list."""
        current = self.highlighted_host
        view = next((v for v in views if v.name == current), None)
        detail = self.query_one("#host-detail", Static)
        text = host_explanation(view, Palette.of(self.app)) if view else Text()
        if self._explained is not None and same_text(self._explained, text):
            return
        self._explained = text
        detail.update(text)
        detail.set_class(not text, "-empty")  # a class, so screen CSS can still hide it

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.HostSelected(event.option.id))
