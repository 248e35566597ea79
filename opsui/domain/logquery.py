"""What the operator typed in the log pane's search or filter box, compiled once.

Plain text or a regular expression, optionally inverted ("lines *without* this"),
with smart case: all lower case matches any case, one capital makes it exact, as in
ripgrep and less. A query can often decide on the raw bytes (:meth:`LogQuery.found_in_raw`),
so scanning a 200,000-line buffer does not decode and sanitise every line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_UNSAFE_BYTES = re.compile(rb"[\x1b\xc2\t]")
"""Raw bytes whose sanitised text can differ from their decoded text in ways that
make or break a match: escapes (removed), C1 controls (UTF-8 ``\\xc2\\x80-\\x9f``),
tabs (expanded)."""
_NOT_PLAIN_ASCII = re.compile(rb"[^ -~]")
"""For a regex, anything but printable ASCII: ``.``, ``\\W`` or ``$`` could read a control
picture or a decoded character differently from the byte it came from."""


class QueryError(ValueError):
    """The text is not a valid regular expression; the message says why."""


@dataclass(frozen=True)
class LogQuery:
    """A compiled search; an empty one matches every line."""

    text: str = ""
    regex: bool = False
    invert: bool = False
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    _needle: re.Pattern[bytes] | None = field(default=None, compare=False, repr=False)

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
        needle = None
        if text.isascii():  # on ASCII bytes, str and bytes patterns agree
            try:
                needle = re.compile(text.encode() if regex else re.escape(text.encode()), flags)
            except re.error:  # valid for str only (e.g. \N{...}): decide on text
                needle = None
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

    def found_in_raw(self, raw: bytes, start: int, max_chars: int) -> bool | None:
        """Whether the raw body (from ``start``, past the timestamp) holds a match, when
        the bytes alone can tell; None when only the sanitised text can.

        A plain ASCII query reads the same in bytes as in text as long as the body has
        no bytes that sanitising rewrites and is short enough not to be capped: ASCII
        bytes always decode to themselves, and control pictures replace single
        characters a typed query does not contain. A regex needs more: a body of
        printable ASCII only, where the two kinds of pattern cannot disagree.
        """
        needle = self._needle
        if needle is None:
            return None
        # A view, not ``pos``: "^" must match where the body starts (and no copy is made).
        body = memoryview(raw)[start:] if start else raw
        unsafe = _NOT_PLAIN_ASCII if self.regex else _UNSAFE_BYTES
        if unsafe.search(body) is not None:
            return None
        if needle.search(body) is None:
            return False
        return True if len(raw) - start < max_chars else None

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
