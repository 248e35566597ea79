"""HTTP health probes, and reading what the usual health endpoints answer.

:func:`parse_health_body` is pure so it can be tested against the shapes seen in the
wild: ``{"status": "ok"}``, ``{"checks": {"database": "ok"}}``, Spring Boot's
``{"components": {"db": {"status": "UP"}}}``, the IETF health+json draft (lists of
measurements with ``pass``/``warn``/``fail``), ASP.NET's ``entries``, and bare lists.

:class:`HttpHealthProber` takes an injectable httpx transport so a remote host's
loopback-only endpoint can be probed through an SSH tunnel. A probe never raises: every
failure (refused, timeout, TLS, garbage) becomes ``HttpHealth(ok=False, error=...)``.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from opsui.domain.models import HttpHealth, SubCheck
from opsui.domain.sanitize import clean

MAX_BODY_BYTES = 256 * 1024
MAX_CHECKS = 32
_NAME_CHARS = 80
_DETAIL_CHARS = 200

_GOOD = frozenset({
    "ok", "up", "healthy", "pass", "passed", "passing", "green", "success", "succeeded",
    "available", "operational", "online", "running", "ready", "good", "true",
})
_CONCERN = frozenset({"warn", "warning", "degraded", "yellow"})  # healthy, with concerns
_BAD = frozenset({
    "down", "fail", "failed", "failing", "failure", "error", "unhealthy", "critical", "red",
    "out_of_service", "outofservice", "unavailable", "offline", "ko", "nok", "not_ok", "bad",
    "dead", "stopped", "false", "unknown",
})
_STATUS_KEYS = ("status", "state", "health", "ok", "healthy", "result")
_DETAIL_KEYS = ("message", "error", "output", "detail", "details", "reason", "description")
_CHECK_KEYS = ("checks", "components", "entries", "dependencies", "services", "details")
_NAME_KEYS = ("name", "id", "component", "componentId", "key", "check")

Verdict = bool | None


def _token(value: str) -> str:
    return value.strip().lower().replace("-", "_").replace(" ", "_")


def _verdict_of_text(text: str) -> Verdict:
    token = _token(text)
    if token in _GOOD or token in _CONCERN:
        return True
    if token in _BAD:
        return False
    return None


def _status_field(doc: Mapping[str, Any]) -> tuple[Verdict, str]:
    """The verdict a dict states about itself, and the raw status it stated."""
    for key in _STATUS_KEYS:
        if key not in doc:
            continue
        value = doc[key]
        if isinstance(value, bool):
            return value, "true" if value else "false"
        if isinstance(value, str):
            verdict = _verdict_of_text(value)
            if verdict is not None:
                return verdict, value
        if isinstance(value, Mapping):
            verdict, raw = _status_field(value)
            if verdict is not None:
                return verdict, raw
    return None, ""


def _detail(doc: Mapping[str, Any], status: str) -> str:
    for key in _DETAIL_KEYS:
        value = doc.get(key)
        if isinstance(value, str) and value.strip():
            return clean(value, _DETAIL_CHARS)
    return clean(status, _DETAIL_CHARS) if _token(status) in _CONCERN else ""


def _check(name: str, value: Any) -> SubCheck:
    """One named check: a status string, a bool, a dict with a status, or a list of those."""
    shown = clean(name, _NAME_CHARS)
    if isinstance(value, bool):
        return SubCheck(shown, value)
    if isinstance(value, str):
        verdict = _verdict_of_text(value)
        detail = "" if verdict and _token(value) not in _CONCERN else clean(value, _DETAIL_CHARS)
        return SubCheck(shown, bool(verdict), detail)
    if isinstance(value, Mapping):
        verdict, status = _status_field(value)
        detail = _detail(value, status)
        if verdict is None:
            verdict = not value.get("error")
            if not verdict and not detail:
                detail = clean(str(value.get("error")), _DETAIL_CHARS)
        elif not verdict and not detail:
            detail = clean(status, _DETAIL_CHARS)
        return SubCheck(shown, verdict, detail)
    if isinstance(value, list):
        parts = [_check(name, item) for item in value if isinstance(item, Mapping | str | bool)]
        failing = [p for p in parts if not p.ok]
        first = (failing or parts or [SubCheck(shown, True)])[0]
        return SubCheck(shown, not failing, first.detail)
    return SubCheck(shown, False, clean(str(value), _DETAIL_CHARS))


def _checks_from_list(items: list[Any]) -> list[SubCheck]:
    checks = []
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            name = next((str(item[k]) for k in _NAME_KEYS if isinstance(item.get(k), str)),
                        f"check {index + 1}")
            checks.append(_check(name, item))
    return checks


def _checks(doc: Mapping[str, Any]) -> list[SubCheck]:
    for key in _CHECK_KEYS:
        value = doc.get(key)
        if isinstance(value, list):
            return _checks_from_list(value)
        if isinstance(value, Mapping) and value:
            if key == "details" and not all(isinstance(v, Mapping) for v in value.values()):
                continue  # Spring puts plain facts under "details"; only nested ones are checks
            return [_check(str(name), item) for name, item in value.items()]
    return []


def _looks_like_json(content_type: str, body: bytes) -> bool:
    return "json" in content_type.lower() or body.lstrip()[:1] in (b"{", b"[")


def _failing_summary(checks: tuple[SubCheck, ...]) -> str:
    failing = [c.name + (f" ({c.detail})" if c.detail else "") for c in checks if not c.ok]
    return clean("failing: " + ", ".join(failing), _DETAIL_CHARS) if failing else ""


def parse_health_body(
    status_code: int, content_type: str, body: bytes
) -> tuple[bool, tuple[SubCheck, ...], str]:
    """Whether an endpoint's answer means healthy, its sub-checks, and why not (or "").

    The HTTP status decides first (only 2xx can be healthy; Spring answers 503 with a
    full body, so checks are still read); then the body's own overall status; failing
    that, the sub-checks; a 2xx that is not JSON is healthy.
    """
    doc: Any = None
    if _looks_like_json(content_type, body):
        try:
            doc = json.loads(body.decode("utf-8", errors="replace"))
        except (ValueError, RecursionError):
            doc = None
    overall: Verdict = None
    status = ""
    found: list[SubCheck] = []
    if isinstance(doc, Mapping):
        overall, status = _status_field(doc)
        found = _checks(doc)
    elif isinstance(doc, list):
        found = _checks_from_list(doc)
    checks = tuple(found[:MAX_CHECKS])
    if not 200 <= status_code < 300:
        said = f' (status "{clean(status, 40)}")' if status else ""
        return False, checks, f"HTTP {status_code}{said}"
    if overall is False:
        return False, checks, clean(f'status "{status}"', _DETAIL_CHARS)
    if overall is None and any(not c.ok for c in checks):
        return False, checks, _failing_summary(checks)
    return True, checks, ""


def _host_port(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return clean(url, 200)
    port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme, 0)
    return clean(f"{parsed.host}:{port}", 200)


def _is_tls_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc).upper()
    return "CERTIFICATE" in text or "SSL" in text or "TLS" in text


def describe_failure(exc: BaseException, url: str, timeout: float) -> str:
    """An operator-readable reason for a failed probe, naming the address."""
    where = _host_port(url)
    reason = clean(str(exc) or type(exc).__name__, 200)
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting to {where} after {timeout:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"no response from {where} within {timeout:g} s"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"invalid health URL {clean(url, 200)}: {reason}"
    if _is_tls_error(exc):
        return f"TLS error with {where}: {reason}"
    if isinstance(exc, httpx.ConnectError):
        if "refused" in reason.lower():
            return f"connection refused by {where}"
        return f"cannot connect to {where}: {reason}"
    if isinstance(exc, httpx.NetworkError):
        return f"connection to {where} failed: {reason}"
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects from {where}"
    if isinstance(exc, httpx.HTTPError):
        return f"bad response from {where}: {reason}"
    return f"probe of {where} failed: {clean(type(exc).__name__, 60)}: {reason}"


class HttpHealthProber:
    """:class:`opsui.domain.ports.HealthProber` over one pooled ``httpx.Client``.

    ``transport`` replaces the network (an SSH tunnel for remote hosts, or a mock in
    tests); ``verify`` only applies to the default transport. Proxy variables are
    ignored: a health URL is meant as the host itself sees it.
    """

    def __init__(self, transport: httpx.BaseTransport | None = None, verify: bool = True) -> None:
        self._client = httpx.Client(
            transport=transport,
            verify=verify,
            trust_env=False,
            follow_redirects=True,
            max_redirects=3,
            headers={"Accept": "application/json, */*;q=0.5", "User-Agent": "opsui-health"},
        )

    def probe(self, url: str, timeout: float = 5.0) -> HttpHealth:
        started = time.perf_counter()
        deadline = started + timeout
        checked_at = datetime.now(UTC)
        shown_url = clean(url, 500)
        try:
            with self._client.stream("GET", url, timeout=timeout) as response:
                latency_ms = (time.perf_counter() - started) * 1000.0
                body = self._read_capped(response, deadline)
        except Exception as exc:  # a probe reports, it never raises
            return HttpHealth(url=shown_url, ok=False, status_code=None, latency_ms=None,
                              error=describe_failure(exc, url, timeout), checked_at=checked_at)
        ok, checks, note = parse_health_body(
            response.status_code, response.headers.get("content-type", ""), body
        )
        return HttpHealth(url=shown_url, ok=ok, status_code=response.status_code,
                          latency_ms=round(latency_ms, 1), checks=checks, error=note,
                          checked_at=checked_at)

    @staticmethod
    def _read_capped(response: httpx.Response, deadline: float) -> bytes:
        """At most MAX_BODY_BYTES, and no later than the deadline: a trickle cannot stall us."""
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_BODY_BYTES or time.perf_counter() > deadline:
                break
        return b"".join(chunks)[:MAX_BODY_BYTES]

    def close(self) -> None:
        self._client.close()
