"""Theme files: the bundled ones and the operator's own, as Textual themes.

A theme file is flat TOML naming Textual's theme colours, plus an optional
``[variables]`` table for individual CSS variables::

    name = "opsui-dark"
    dark = true
    primary = "#4ea1d3"
    error = "#e05d5d"
    [variables]
    footer-key-foreground = "#4ea1d3"

Bundled files come from the ``opsui.themes`` package, the operator's from
``$XDG_CONFIG_HOME/opsui/themes/*.toml`` (a user file may replace a bundled theme
of the same name). A broken file must never stop opsui from starting in the middle
of an incident: it is skipped and reported, naming the file and the key.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from platformdirs import user_config_path
from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES, Theme

DEFAULT_THEME = "opsui-dark"
LIGHT_THEME = "opsui-light"

_COLOR_KEYS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground",
               "background", "surface", "panel", "boost")
_NUMBER_KEYS = ("luminosity_spread", "text_alpha")
_KNOWN_KEYS = {"name", "dark", "variables", *_COLOR_KEYS, *_NUMBER_KEYS}


class ThemeFileError(Exception):
    """A theme file is unusable; the message names the file and the key."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"Theme file {source}: key '{key}': {problem}")
        self.source = source
        self.key = key


@dataclass
class LoadedThemes:
    """What loading found: usable themes, and one message per skipped file."""

    themes: list[Theme] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def user_theme_dir() -> Path:
    """``$XDG_CONFIG_HOME/opsui/themes`` (``~/.config/opsui/themes`` by default), by
    platformdirs, as for ``opsui.toml``."""
    return user_config_path("opsui", appauthor=False) / "themes"


def bundled_theme_files() -> list[Traversable]:
    """The ``*.toml`` files shipped in ``opsui.themes``.

    A source checkout that was installed before ``themes/`` became a package has no
    ``opsui.themes`` module; the repository folder next to ``opsui/`` is used then.
    """
    try:
        root: Traversable = importlib.resources.files("opsui.themes")
    except ModuleNotFoundError:
        root = Path(__file__).resolve().parents[2] / "themes"
    if not root.is_dir():
        return []
    return sorted((f for f in root.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)


def parse_theme(source: str, text: str) -> Theme:
    """One theme from TOML text; raises :class:`ThemeFileError` naming the bad key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(source, "(file)", f"not valid TOML ({exc})") from None
    for key in data:
        if key not in _KNOWN_KEYS:
            raise ThemeFileError(source, key, "unknown key; expected one of "
                                 + ", ".join(sorted(_KNOWN_KEYS)))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(source, "name", "expected a non-empty string")
    if "primary" not in data:
        raise ThemeFileError(source, "primary", "required (a colour such as \"#4ea1d3\")")
    colors = {key: _color(source, key, data[key]) for key in _COLOR_KEYS if key in data}
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeFileError(source, "dark", "expected true or false")
    spread = _number(source, data, "luminosity_spread", 0.15)
    alpha = _number(source, data, "text_alpha", 0.95)
    variables = _variables(source, data.get("variables", {}))
    return Theme(
        name=name.strip(), primary=colors["primary"], secondary=colors.get("secondary"),
        warning=colors.get("warning"), error=colors.get("error"), success=colors.get("success"),
        accent=colors.get("accent"), foreground=colors.get("foreground"),
        background=colors.get("background"), surface=colors.get("surface"),
        panel=colors.get("panel"), boost=colors.get("boost"), dark=dark,
        luminosity_spread=spread, text_alpha=alpha, variables=variables,
    )


def _number(source: str, data: dict[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ThemeFileError(source, key, "expected a number")
    return float(value)


def _color(source: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(source, key, "expected a colour string such as \"#4ea1d3\"")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(source, key, f"{value!r} is not a colour") from None
    return value


def _variables(source: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ThemeFileError(source, "variables", "expected a table of name = \"value\"")
    variables: dict[str, str] = {}
    for name, raw in value.items():
        if not isinstance(raw, str):
            raise ThemeFileError(source, f"variables.{name}", "expected a string")
        variables[name] = raw
    return variables


def load_themes(sources: Iterable[tuple[str, str | OSError]]) -> LoadedThemes:
    """Parse (source, text) pairs; later themes of the same name replace earlier ones."""
    loaded = LoadedThemes()
    by_name: dict[str, Theme] = {}
    for source, text in sources:
        try:
            if isinstance(text, OSError):
                raise ThemeFileError(source, "(file)", f"unreadable ({text})")
            theme = parse_theme(source, text)
        except ThemeFileError as exc:
            loaded.problems.append(str(exc))
            continue
        by_name[theme.name] = theme
    loaded.themes = list(by_name.values())
    return loaded


def theme_sources(user_dir: Path | None = None) -> Iterable[tuple[str, str | OSError]]:
    """(source for messages, text or read error) of every bundled, then every user file."""
    for resource in bundled_theme_files():
        yield f"opsui.themes/{resource.name}", resource.read_text(encoding="utf-8")
    folder = user_theme_dir() if user_dir is None else user_dir
    if folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            try:
                text: str | OSError = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                text = OSError(f"not UTF-8: {exc.reason}")
            except OSError as exc:
                text = exc
            yield str(path), text


@dataclass(frozen=True)
class ThemeCheck:
    """What ``theme = NAME`` resolves to: ``problem`` when it cannot be used at all,
    ``skipped`` for each theme file that is broken (named, with its key)."""

    problem: str | None
    skipped: tuple[str, ...]


def check_theme(wanted: str, user_dir: Path | None = None) -> ThemeCheck:
    """Whether ``wanted`` names a bundled, user or Textual theme, as the dashboard will
    load them; a theme whose own file is broken is unknown, and says why."""
    loaded = load_themes(theme_sources(user_dir))
    known = {t.name for t in loaded.themes} | set(BUILTIN_THEMES)
    if wanted in known:
        return ThemeCheck(None, tuple(loaded.problems))
    folder = user_theme_dir() if user_dir is None else user_dir
    problem = (f"a known theme ({', '.join(sorted(known))}) or one in a .toml file in "
               f"{folder}")
    if loaded.problems:
        problem += "; skipped: " + "; ".join(loaded.problems)
    return ThemeCheck(problem, tuple(loaded.problems))
