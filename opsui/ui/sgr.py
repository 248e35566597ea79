"""SGR parameters (kept by the sanitiser as spans) to Rich styles.

:func:`opsui.domain.sanitize.sanitize_line` keeps a log line's colours as numbers, not
bytes, so nothing from a container reaches the terminal unchanged. Here the numbers
become a Rich :class:`~rich.style.Style`. Only colour and emphasis are honoured:
blink and conceal are dropped (concealed text would hide what a line says).
"""

from __future__ import annotations

from functools import lru_cache

from rich.color import Color
from rich.style import Style

_ATTRS: dict[int, tuple[str, bool]] = {
    1: ("bold", True), 2: ("dim", True), 3: ("italic", True), 4: ("underline", True),
    7: ("reverse", True), 9: ("strike", True), 21: ("underline2", True),
    22: ("bold", False), 23: ("italic", False), 24: ("underline", False),
    27: ("reverse", False), 29: ("strike", False),
}


@lru_cache(maxsize=1024)
def sgr_style(params: tuple[int, ...]) -> Style:
    """The style a run of SGR parameters leaves in effect (``(1, 31)`` -> bold red)."""
    attrs: dict[str, bool] = {}
    color: Color | None = None
    bgcolor: Color | None = None
    i = 0
    while i < len(params):
        code = params[i]
        i += 1
        if code == 0:
            attrs, color, bgcolor = {}, None, None
        elif code in _ATTRS:
            name, on = _ATTRS[code]
            attrs[name] = on
            if code == 22:
                attrs["dim"] = False
        elif 30 <= code <= 37:
            color = Color.from_ansi(code - 30)
        elif 90 <= code <= 97:
            color = Color.from_ansi(code - 90 + 8)
        elif 40 <= code <= 47:
            bgcolor = Color.from_ansi(code - 40)
        elif 100 <= code <= 107:
            bgcolor = Color.from_ansi(code - 100 + 8)
        elif code == 39:
            color = None
        elif code == 49:
            bgcolor = None
        elif code in (38, 48):
            extended, i = _extended(params, i)
            if code == 38:
                color = extended
            else:
                bgcolor = extended
    return Style(color=color, bgcolor=bgcolor, **attrs)  # type: ignore[arg-type]


def _extended(params: tuple[int, ...], i: int) -> tuple[Color | None, int]:
    """``5;n`` (256 colours) or ``2;r;g;b`` (true colour) after a 38/48."""
    if i < len(params) and params[i] == 5 and i + 1 < len(params):
        return Color.from_ansi(params[i + 1]), i + 2
    if i < len(params) and params[i] == 2 and i + 3 < len(params):
        r, g, b = params[i + 1 : i + 4]
        return Color.from_rgb(r, g, b), i + 4
    return None, len(params)
