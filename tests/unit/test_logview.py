"""The log pane's pure logic: timestamps, rendering, levels, queries, the filtered index."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsui.domain.logbuffer import LineKind, LogBuffer
from opsui.domain.logexport import export_lines
from opsui.domain.logindex import FilteredIndex
from opsui.domain.logview import (
    Level,
    LogLine,
    LogQuery,
    QueryError,
    body_offset,
    detect_level,
    plain_line,
    render_entry,
    short_timestamp,
    split_timestamp,
)

STAMP = b"2026-11-23T16:58:50.123456789Z "


# -- timestamps -----------------------------------------------------------------------

def test_split_timestamp_takes_the_docker_prefix_and_one_space() -> None:
    assert split_timestamp(STAMP + b"hello world") == ("2026-11-23T16:58:50.123456789Z",
                                                       b"hello world")
    assert split_timestamp(STAMP + b" indented") == ("2026-11-23T16:58:50.123456789Z",
                                                     b" indented")


@pytest.mark.parametrize("raw", [b"", b"hello", b"2026-11-23 not a stamp",
                                 b"2026-11-23T16:58:50.123456789Zglued",
                                 b"xxxx-xx-xxTxx:xx:xx.000000000Z text"])
def test_lines_without_a_prefix_are_whole(raw: bytes) -> None:
    assert split_timestamp(raw) == (None, raw)


def test_short_timestamp_keeps_milliseconds() -> None:
    assert short_timestamp("2026-11-23T16:58:50.123456789Z") == "2026-11-23 16:58:50.123"
    assert short_timestamp("2026-11-23T16:58:50Z") == "2026-11-23 16:58:50.000"


# -- rendering --------------------------------------------------------------------------

def test_render_sanitises_the_body_and_keeps_sgr_as_spans() -> None:
    line = render_entry(7, (0, LineKind.STDERR, STAMP + b"\x1b[31mERROR\x1b[0m \x1b]0;pwn\x07x"))
    assert (line.seq, line.source, line.kind) == (7, 0, LineKind.STDERR)
    assert line.timestamp == "2026-11-23T16:58:50.123456789Z"
    assert line.text == "ERROR x"
    assert [(s.start, s.end, s.sgr) for s in line.spans] == [(0, 5, (31,))]
    assert line.level is Level.ERROR


@pytest.mark.parametrize("payload", [b"\x1bc", b"\x1b[2J", b"\x1bP1$qm\x1b\\",
                                     b"\x1b]52;c;aGk=\x07", b"\xc2\x9b31m", b"\x9b2J"])
def test_render_strips_every_control_sequence(payload: bytes) -> None:
    text = render_entry(0, (0, 1, b"a" + payload + b"b")).text
    assert "\x1b" not in text and not any(0x80 <= ord(c) <= 0x9f for c in text)
    assert text.startswith("a") and text.endswith("b")


def test_render_keeps_brackets_invalid_utf8_and_carriage_returns_visible() -> None:
    assert render_entry(0, (0, 1, b"[bold] [/usr/bin] [@click=app.quit] [$accent]")).text \
        == "[bold] [/usr/bin] [@click=app.quit] [$accent]"
    assert render_entry(0, (0, 1, b"bad \xff\xfe end")).text == "bad \ufffd\ufffd end"
    assert "hidden" in render_entry(0, (0, 1, b"hidden\rshown")).text


def test_a_megabyte_line_is_capped() -> None:
    line = render_entry(0, (0, 1, b"x" * 1_000_000))
    assert line.truncated and len(line.text) <= 8192 and line.text.endswith("…")


def test_markers_have_no_level() -> None:
    line = render_entry(0, (0, LineKind.MARKER, STAMP + b"ERROR: restarted"))
    assert line.is_marker and line.level is None


# -- levels -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "level"), [
    ('{"level":"error","msg":"boom"}', Level.ERROR),
    ('{"ts":1,"severity":"WARNING","message":"x"}', Level.WARN),
    ('{"lvl": "debug"}', Level.DEBUG),
    ('{"level":50,"msg":"pino"}', Level.ERROR),
    ('{"level":30,"msg":"pino"}', Level.INFO),
    ("time=2026 level=warn msg=slow", Level.WARN),
    ('ts=1 lvl="info" msg=ok', Level.INFO),
    ("[ERROR] database down", Level.ERROR),
    ("2026/11/23 16:58:50 [error] 29#29: *1 connect() failed", Level.ERROR),
    ("ERROR:root:something broke", Level.ERROR),
    ("2026-11-23 16:58:50,123 - app.db - WARNING - slow query", Level.WARN),
    ("WARN  cache miss storm", Level.WARN),
    ("FATAL: the database system is shutting down", Level.ERROR),
    ("CRITICAL:root:out of memory", Level.ERROR),
    ("TRACE entering handler", Level.DEBUG),
    ("I am INFO", Level.INFO),
    ("<warn> x", Level.WARN),
])
def test_common_formats(text: str, level: Level) -> None:
    assert detect_level(text) is level


@pytest.mark.parametrize("text", ["GET /health 200", "an error occurred somewhere",
                                  "ERRORS=0 INFORMATION", "[bold] text", ""])
def test_no_level(text: str) -> None:
    assert detect_level(text) is None


def test_level_words_far_into_a_line_do_not_count() -> None:
    assert detect_level("x" * 200 + " ERROR") is None


# -- queries --------------------------------------------------------------------------------

def test_smart_case() -> None:
    lower, upper = LogQuery.build("error"), LogQuery.build("Error")
    assert lower.matches("an ERROR here") and lower.matches("Error")
    assert upper.matches("an Error here") and not upper.matches("an ERROR here")


def test_plain_text_is_literal_and_regex_is_not() -> None:
    assert LogQuery.build("a.c").matches("a.c") and not LogQuery.build("a.c").matches("abc")
    assert LogQuery.build("a.c", regex=True).matches("abc")
    assert LogQuery.build("[bold]").matches("x [bold] y")


def test_invert_and_empty() -> None:
    query = LogQuery.build("health", invert=True)
    assert not query.matches("GET /health") and query.matches("GET /api")
    assert query.found("GET /health")  # search ignores invert
    assert LogQuery.build("").matches("anything") and not LogQuery.build("").active


def test_bad_regex_says_why() -> None:
    with pytest.raises(QueryError, match="regular expression"):
        LogQuery.build("(", regex=True)


def test_highlight_spans() -> None:
    assert LogQuery.build("ab").spans("xabyAB") == [(1, 3), (4, 6)]
    assert LogQuery.build("x*", regex=True).spans("aaa") == []  # empty matches skipped
    assert len(LogQuery.build("a").spans("a" * 1000, limit=10)) == 10


def test_raw_decisions_are_only_made_when_certain() -> None:
    query = LogQuery.build("abc")
    assert query.found_in_raw(b"xyz", 0, 100) is False
    assert query.found_in_raw(b"xABCx", 0, 100) is True  # smart case: lower, any case
    assert query.found_in_raw(b"a\x1b[1mbc", 0, 100) is None  # sanitised: "abc"
    assert query.found_in_raw(b"a\tbc", 0, 100) is None
    assert query.found_in_raw(b"abc" + b"x" * 200, 0, 100) is None  # may be past the cap
    assert query.found_in_raw(b"abc body", 4, 100) is False  # before the body: not counted
    assert LogQuery.build("a.c", regex=True).found_in_raw(b"abc", 0, 100) is True
    assert LogQuery.build("a.c", regex=True).found_in_raw(b"a\xc3\xa9c", 0, 100) is None
    assert LogQuery.build("ABC").found_in_raw(b"abc", 0, 100) is False


# -- the filtered index ---------------------------------------------------------------------

def _buffer(lines: list[bytes], capacity: int = 1000) -> LogBuffer:
    buffer = LogBuffer(capacity)
    buffer.add_source("web")
    buffer.append(0, LineKind.STDOUT, lines)
    return buffer


def test_index_keeps_matching_lines_in_order() -> None:
    buffer = _buffer([b"GET /a", b"ERROR x", b"GET /b", b"error y"])
    index = FilteredIndex(buffer, LogQuery.build("error"), None, render_entry)
    assert index.advance() == 2 and index.seqs == [1, 3] and index.pending == 0


def test_index_inverted_and_by_level() -> None:
    buffer = _buffer([b"[INFO] a", b"[WARN] b", b"[ERROR] c", b"plain", b"[DEBUG] d"])
    inverted = FilteredIndex(buffer, LogQuery.build("warn", invert=True), None, render_entry)
    inverted.advance()
    assert inverted.seqs == [0, 2, 3, 4]
    at_least_warn = FilteredIndex(buffer, LogQuery(), Level.WARN, render_entry)
    at_least_warn.advance()
    assert at_least_warn.seqs == [1, 2, 3]  # "plain" continues the ERROR line above it


def test_a_traceback_stays_with_its_error_line_and_info_continuations_do_not() -> None:
    buffer = _buffer([b"unlevelled start-up banner", b"ERROR:app:payment failed",
                      b"Traceback (most recent call last):", b'  File "pay.py", line 3',
                      b"ValueError: card declined", b"INFO:app:next request",
                      b"  with an indented detail"])
    buffer.add_source("db")
    buffer.append(1, LineKind.STDOUT, [b"unlevelled line of another container"])
    errors = FilteredIndex(buffer, LogQuery(), Level.ERROR, render_entry)
    errors.advance()
    assert errors.seqs == [1, 2, 3, 4]


def test_markers_always_pass() -> None:
    buffer = _buffer([b"noise"])
    buffer.append(0, LineKind.MARKER, [b"restarted"])
    index = FilteredIndex(buffer, LogQuery.build("zzz"), Level.ERROR, render_entry)
    index.advance()
    assert index.seqs == [1]


def test_index_scans_in_bounded_batches() -> None:
    buffer = _buffer([b"hit %d" % i for i in range(100)])
    index = FilteredIndex(buffer, LogQuery.build("hit"), None, render_entry)
    assert index.advance(budget=30) == 30 and index.pending == 70
    buffer.append(0, 1, [b"hit new"])
    assert index.advance(budget=1000) == 71 and index.pending == 0
    assert index.seqs == list(range(101))


def test_dropped_lines_fall_out_and_a_late_scan_skips_ahead() -> None:
    buffer = _buffer([b"hit %d" % i for i in range(10)], capacity=10)
    index = FilteredIndex(buffer, LogQuery.build("hit"), None, render_entry)
    index.advance()
    buffer.append(0, 1, [b"hit more %d" % i for i in range(25)])  # 35 total, first 25
    index.advance(budget=5)
    assert index.seqs == list(range(25, 30))  # older ones dropped, scan jumped to first


def test_plain_filter_over_clean_lines_renders_only_the_hits() -> None:
    """Clean plain-text lines are decided on their bytes: none is decoded (speed is bench's)."""
    buffer = _buffer([STAMP + b"GET /api/items 200 %d" % i for i in range(5000)],
                     capacity=5000)
    rendered: list[int] = []

    def render(seq: int, entry: tuple[int, int, bytes]) -> LogLine:
        rendered.append(seq)
        return render_entry(seq, entry)

    index = FilteredIndex(buffer, LogQuery.build("items 200 1999"), None, render)
    index.advance(budget=5000)
    assert index.seqs == [1999] and rendered == []


# -- export -----------------------------------------------------------------------------------

def test_export_writes_sanitised_lines_and_skips_dropped(tmp_path: Path) -> None:
    buffer = LogBuffer(3)
    buffer.add_source("web-1")
    buffer.append(0, LineKind.STDOUT, [STAMP + b"one", b"\x1b]0;x\x07two \x1b[1mbold", b"3"])
    buffer.append(0, LineKind.STDERR, [b"four"])  # drops "one"
    result = export_lines(buffer, [0, 1, 2, 3], tmp_path / "out.log")
    assert (result.written, result.missed) == (3, 1)
    assert (tmp_path / "out.log").read_text() == "web-1 two bold\nweb-1 3\nweb-1 four\n"


def test_export_raises_os_errors(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        export_lines(_buffer([b"x"]), [0], tmp_path / "missing" / "out.log")


def test_plain_line_has_time_source_and_text() -> None:
    line = render_entry(0, (0, 1, STAMP + b"hello"))
    assert plain_line(line, "web-1") == "2026-11-23T16:58:50.123456789Z web-1 hello"
    assert plain_line(line, "web-1", timestamps=False) == "web-1 hello"


RAW_CASES = [
    STAMP + b"plain hit here", STAMP + b"no match", b"hit without stamp",
    STAMP + b"h\x1b[1mit split by colour", STAMP + b"h\tit", STAMP + b"HIT upper",
    STAMP + b"\xff\xfehit after bad bytes", STAMP + b"hi\x01t control inside",
    STAMP + b"x" * 9000 + b" hit beyond the cap", b"2026-11-23T16:58:50.1Z hit",
    STAMP + b"caf\xc3\xa9 hit", STAMP + b"\xc2\x9bhit",
]


@pytest.mark.parametrize(("text", "regex"), [
    ("hit", False), ("Hit", False), ("HIT", False), ("2026", False), ("16:58", False),
    ("t s", False), ("caf", False), (r"h.t", True), (r"^h", True), (r"\W+hit", True),
    (r"it$", True), (r"\w+ hit", True), (r"caf. hit", True), (r"H.T", True), (r"\d{4}", True),
])
@pytest.mark.parametrize("invert", [False, True])
def test_byte_level_decisions_agree_with_the_sanitised_text(text: str, regex: bool,
                                                             invert: bool) -> None:
    """The fast path never keeps or drops a line the slow path would not."""
    buffer = _buffer(RAW_CASES)
    query = LogQuery.build(text, regex=regex, invert=invert)
    fast = FilteredIndex(buffer, query, None, render_entry)
    fast.advance()
    slow = [seq for seq, entry in buffer.entries(0)
            if query.matches(render_entry(seq, entry).text)]
    assert fast.seqs == slow


def test_timestamps_do_not_match_a_filter() -> None:
    buffer = _buffer([STAMP + b"body only"])
    index = FilteredIndex(buffer, LogQuery.build("2026"), None, render_entry)
    index.advance()
    assert index.seqs == []


@pytest.mark.parametrize("raw", [STAMP + b"x", b"2026-11-23T16:58:50.1Z x", b"x" * 40, b"",
                                 b"2026-11-23T16:58:50.123456789Zx", b"2026-11-23T1"])
def test_body_offset_agrees_with_split_timestamp(raw: bytes) -> None:
    assert raw[body_offset(raw):] == split_timestamp(raw)[1]


LEVEL_CASES = [b"[ERROR] a", STAMP + b"WARN b", STAMP + b'{"level":"info"}', b"plain",
               STAMP + b"\x1b[31mERROR\x1b[0m coloured", STAMP + b"caf\xc3\xa9 ERROR",
               STAMP + b"\tDEBUG tabbed", STAMP + b"x" * 150 + b" ERROR late",
               STAMP + b"ERR\x01OR split", STAMP + b"level=warn retry"]


@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize("text", ["", "retry", "a"])
def test_level_decisions_on_bytes_agree_with_the_sanitised_text(level: Level,
                                                                text: str) -> None:
    buffer = _buffer(LEVEL_CASES)
    query = LogQuery.build(text)
    fast = FilteredIndex(buffer, query, level, render_entry)
    fast.advance()
    slow = []
    carried: Level | None = None  # one source: an unlevelled line takes the one above's
    for seq, entry in buffer.entries(0):
        line = render_entry(seq, entry)
        carried = line.level or carried
        if carried is not None and carried >= level and query.matches(line.text):
            slow.append(seq)
    assert fast.seqs == slow
