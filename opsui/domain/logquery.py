"""What the operator typed in the log pane's search or filter box, compiled once.

Plain text or a regular expression, optionally inverted ("lines *without* this"),
with smart case: all lower case matches any case, one capital makes it exact, as in
ripgrep and less. A query also knows a cheap pre-check on the raw bytes, so scanning
a 200,000-line buffer for a plain word does not decode and sanitise every line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_UNSAFE_BYTES = (b"\x1b", b"\xc2", b"\t")
"""Raw bytes whose sanitised text can differ from their decoded text in ways that
make or break a match: escapes (removed), C1 controls (UTF-8 ``\\xc2\\x80-\\x9f``),
tabs (expanded)."""


class QueryError(ValueError):
    """The text is not a valid regular expression; the message says why."""


@dataclass(frozen=True)
class LogQuery:
    """A compiled search; an empty one matches every line."""

    text: str = ""
    regex: bool = False
    invert: bool = False
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    _needle: bytes | None = field(default=None, compare=False, repr=False)

    @classmethod
    def build(cls, text: str, *, regex: bool = False, invert: bool = False) -> LogQuery:
        """Compile ``text``; raises :class:`QueryError` on a bad regular expression."""
        if not text:
            return cls("", regex, invert)
        flags = 0 if any(ch.isupper() for ch in text) else re.IGNORECASE
        try:
            pattern = re.compile(text if regex else re.escape(text), flags)
        except re.error as exc:
            raise QueryError(f"not a valid regular expression: {exc}") from exc
        needle: bytes | None = None
        if not regex and text.isascii():
            needle = text.encode() if flags == 0 else text.lower().encode()
        return cls(text, regex, invert, pattern, needle)

    @property
    def active(self) -> bool:
        return self.pattern is not None

    def found(self, text: str) -> bool:
        """Whether the text contains a match (ignores ``invert``: for search)."""
        return self.pattern is None or self.pattern.search(text) is not None

    def matches(self, text: str) -> bool:
        """Whether a line with this text is kept by the filter (``invert`` applied)."""
        if self.pattern is None:
            return True
        return (self.pattern.search(text) is not None) != self.invert

    def absent_from(self, raw: bytes) -> bool:
        """True when ``raw`` certainly holds no match, decided on the bytes alone.

        Only a plain ASCII query can tell, and only for raw lines without bytes that
        sanitising rewrites; anything else answers False ("look closer").
        """
        needle = self._needle
        if needle is None or any(b in raw for b in _UNSAFE_BYTES):
            return False
        haystack = raw if self.pattern is not None and not self.pattern.flags & re.IGNORECASE \
            else raw.lower()
        return needle not in haystack

    def spans(self, text: str, limit: int = 256) -> list[tuple[int, int]]:
        """Where the query matches in ``text`` (for highlighting), at most ``limit``."""
        if self.pattern is None:
            return []
        out: list[tuple[int, int]] = []
        for match in self.pattern.finditer(text):
            if match.end() > match.start():
                out.append((match.start(), match.end()))
                if len(out) >= limit:
                    break
        return out

    def describe(self) -> str:
        """Short label for the status line: ``/err/`` ``!"timeout"``."""
        if not self.text:
            return ""
        body = f"/{self.text}/" if self.regex else f'"{self.text}"'
        return ("!" if self.invert else "") + body
