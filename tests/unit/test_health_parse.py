"""Reading health endpoint answers, and probing with a mocked transport (no network)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from opsui.backends.health import HttpHealthProber, parse_health_body
from opsui.domain.models import SubCheck

JSON = "application/json"


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


@pytest.mark.parametrize("status", ["ok", "OK", "up", "UP", "healthy", "pass", "green"])
def test_plain_ok_status(status: str) -> None:
    assert parse_health_body(200, JSON, body({"status": status})) == (True, (), "")


@pytest.mark.parametrize("status", ["down", "DOWN", "fail", "unhealthy", "error", "critical"])
def test_plain_bad_status_on_200(status: str) -> None:
    ok, checks, note = parse_health_body(200, JSON, body({"status": status}))
    assert not ok
    assert checks == ()
    assert status in note


def test_checks_as_strings() -> None:
    ok, checks, note = parse_health_body(
        200, JSON, body({"status": "ok", "checks": {"database": "ok", "cache": "ok"}})
    )
    assert ok and note == ""
    assert checks == (SubCheck("database", True), SubCheck("cache", True))


def test_checks_as_dicts_with_detail() -> None:
    doc = {"status": "degraded", "checks": {
        "database": {"status": "up", "latency_ms": 3},
        "cache": {"status": "down", "error": "connection refused"},
    }}
    ok, checks, _ = parse_health_body(200, JSON, body(doc))
    assert ok  # the endpoint says degraded: healthy with concerns
    assert checks == (
        SubCheck("database", True),
        SubCheck("cache", False, "connection refused"),
    )


def test_failing_check_without_overall_status_fails() -> None:
    ok, checks, note = parse_health_body(
        200, JSON, body({"checks": {"database": "ok", "cache": "down"}})
    )
    assert not ok
    assert checks[1] == SubCheck("cache", False, "down")
    assert "cache" in note


def test_spring_boot_actuator_up() -> None:
    doc = {"status": "UP", "components": {
        "db": {"status": "UP", "details": {"database": "PostgreSQL", "validationQuery": "ok"}},
        "diskSpace": {"status": "UP", "details": {"total": 1, "free": 1}},
        "ping": {"status": "UP"},
    }}
    ok, checks, note = parse_health_body(200, "application/vnd.spring-boot.actuator.v3+json",
                                         body(doc))
    assert ok and note == ""
    assert [c.name for c in checks] == ["db", "diskSpace", "ping"]
    assert all(c.ok for c in checks)


def test_spring_boot_down_is_503_and_still_lists_checks() -> None:
    doc = {"status": "DOWN", "components": {
        "db": {"status": "DOWN", "details": {"error": "Connection refused"}},
        "ping": {"status": "UP"},
    }}
    ok, checks, note = parse_health_body(503, JSON, body(doc))
    assert not ok
    assert note == 'HTTP 503 (status "DOWN")'
    assert checks[0].name == "db" and not checks[0].ok
    assert checks[1] == SubCheck("ping", True)


def test_list_of_checks() -> None:
    doc = [{"name": "database", "status": "ok"},
           {"name": "cache", "status": "fail", "message": "timeout"}]
    ok, checks, _ = parse_health_body(200, JSON, body(doc))
    assert not ok
    assert checks == (SubCheck("database", True), SubCheck("cache", False, "timeout"))


def test_checks_key_holding_a_list() -> None:
    doc = {"status": "pass", "checks": [{"id": "db", "state": "healthy"}]}
    assert parse_health_body(200, JSON, body(doc)) == (True, (SubCheck("db", True),), "")


def test_ietf_health_json_draft() -> None:
    doc = {"status": "warn", "checks": {
        "postgres:responseTime": [{"componentId": "db1", "status": "pass"}],
        "redis:connections": [{"componentId": "r1", "status": "warn", "output": "pool 90%"},
                              {"componentId": "r2", "status": "pass"}],
    }}
    ok, checks, _ = parse_health_body(200, "application/health+json", body(doc))
    assert ok
    assert checks == (
        SubCheck("postgres:responseTime", True),
        SubCheck("redis:connections", True, "pool 90%"),
    )


def test_aspnet_entries() -> None:
    doc = {"status": "Unhealthy", "entries": {
        "sql": {"status": "Unhealthy", "description": "login failed"},
        "self": {"status": "Healthy"},
    }}
    ok, checks, note = parse_health_body(503, JSON, body(doc))
    assert not ok and note.startswith("HTTP 503")
    assert checks[0] == SubCheck("sql", False, "login failed")


def test_boolean_shapes() -> None:
    assert parse_health_body(200, JSON, body({"ok": True}))[0]
    assert not parse_health_body(200, JSON, body({"healthy": False}))[0]
    ok, checks, _ = parse_health_body(200, JSON, body({"checks": {"db": True, "mq": False}}))
    assert not ok and checks == (SubCheck("db", True), SubCheck("mq", False))


def test_non_json_2xx_is_ok() -> None:
    assert parse_health_body(200, "text/plain", b"OK\n") == (True, (), "")
    assert parse_health_body(204, "", b"") == (True, (), "")


def test_json_without_content_type_is_still_read() -> None:
    doc = {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}
    ok, checks, _ = parse_health_body(200, "application/octet-stream", body(doc))
    assert ok and len(checks) == 2


def test_broken_json_on_2xx_is_ok_and_on_5xx_not() -> None:
    assert parse_health_body(200, JSON, b'{"status": ')[0]
    ok, _, note = parse_health_body(500, JSON, b'{"status": ')
    assert not ok and note == "HTTP 500"


def test_5xx_and_4xx_are_not_ok_whatever_the_body() -> None:
    assert parse_health_body(503, "text/plain", b"OK") == (False, (), "HTTP 503")
    assert parse_health_body(404, "text/html", b"<h1>nope</h1>") == (False, (), "HTTP 404")
    assert not parse_health_body(500, JSON, body({"status": "ok"}))[0]


def test_hostile_body_is_sanitised() -> None:
    hostile = "\x1b]52;c;cHduZWQ=\x07db\x1b[2J[@click=app.quit]\x9b1m"
    doc = {"status": hostile, "checks": {hostile: {"status": "down", "message": hostile}}}
    ok, checks, note = parse_health_body(200, JSON, body(doc))
    assert not ok
    for text in (checks[0].name, checks[0].detail, note):
        assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text


def test_check_count_is_bounded() -> None:
    doc = {"checks": {f"c{i}": "ok" for i in range(500)}}
    assert len(parse_health_body(200, JSON, body(doc))[1]) == 32


def test_deeply_nested_json_does_not_crash() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert parse_health_body(200, JSON, deep)[0]


def _prober(handler: Any) -> HttpHealthProber:
    return HttpHealthProber(transport=httpx.MockTransport(handler))


def test_probe_through_injected_transport() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"status": "ok", "checks": {"database": "ok"}})

    result = _prober(handler).probe("http://127.0.0.1:8080/api/health")
    assert seen == ["http://127.0.0.1:8080/api/health"]
    assert result.ok and result.status_code == 200
    assert result.checks == (SubCheck("database", True),)
    assert result.latency_ms is not None and result.latency_ms >= 0
    assert result.checked_at is not None
    assert result.error == ""


def test_probe_turns_transport_errors_into_results() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    result = _prober(refused).probe("http://127.0.0.1:1/health")
    assert not result.ok and result.status_code is None
    assert result.error == "connection refused by 127.0.0.1:1"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectTimeout("timed out"), "timed out connecting to db.internal:443 after 2 s"),
        (httpx.ReadTimeout("timed out"), "no response from db.internal:443 within 2 s"),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
         "TLS error with db.internal:443: [SSL: CERTIFICATE_VERIFY_FAILED]"),
        (httpx.RemoteProtocolError("illegal header"), "bad response from db.internal:443"),
        (RuntimeError("tunnel closed"), "probe of db.internal:443 failed: RuntimeError"),
    ],
)
def test_probe_error_messages(exc: Exception, expected: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    result = _prober(handler).probe("https://db.internal/health", timeout=2)
    assert not result.ok
    assert result.error.startswith(expected)


def test_probe_invalid_url() -> None:
    result = HttpHealthProber().probe("ftp://example/health")
    assert not result.ok and "invalid health URL" in result.error


def test_probe_caps_the_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 10_000_000)

    result = _prober(handler).probe("http://h/health")
    assert result.ok
