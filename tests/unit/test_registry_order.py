"""The tag picker's order, and where the dates it sorts by come from.

Newest build first; undated tags after, highest version first (10.0.0 above 9.1.0, a
release above its release candidates); tags that are no version (``latest``) last.
The dates come from each tag's image config, through an index's linux/amd64 entry,
read with caps: the registry is a remote party.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from opsui.backends import registry
from opsui.backends.registry import (
    RegistryClient,
    RegistryTags,
    by_version,
    newest_first,
    parse_created,
    pick_manifest,
    registry_words,
    version_key,
)
from opsui.domain.errors import ActionFailed
from opsui.domain.ports import LocalImage


def at(hour: int) -> datetime:
    return datetime(2026, 11, 23, hour, tzinfo=UTC)


def test_versions_sort_naturally_and_non_versions_go_last() -> None:
    tags = ["latest", "9.0.0", "10.0.0", "9.1.0", "main", "v9.2", "1.0.0-rc10", "1.0.0",
            "1.0.0-rc2", "10.0.0"]
    assert by_version(tags) == ["10.0.0", "v9.2", "9.1.0", "9.0.0", "1.0.0", "1.0.0-rc10",
                                "1.0.0-rc2", "latest", "main"]


@pytest.mark.parametrize("tag", ["latest", "main", "sha-1a2b3c", "", "-1"])
def test_what_is_no_version(tag: str) -> None:
    assert version_key(tag) is None


def test_newest_build_first_then_undated_by_version() -> None:
    images = [LocalImage("9.0.0", "", None), LocalImage("latest", "a", at(12)),
              LocalImage("1.0.0", "b", at(9)), LocalImage("2.0.0", "c", at(12)),
              LocalImage("edge", "", None), LocalImage("10.0.0", "", None),
              LocalImage("3.0.0", "d", at(11))]
    assert [i.tag for i in newest_first(images)] == [
        "2.0.0", "latest",  # same build time: the version first
        "3.0.0", "1.0.0",
        "10.0.0", "9.0.0", "edge"]


def test_newest_first_of_nothing() -> None:
    assert newest_first([]) == []


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-11-23T12:00:00.123456789Z", datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)),
    ("2026-11-23T12:00:00", at(12)),  # no zone: UTC, as Docker writes it
    ("1970-01-01T00:00:00Z", None),  # reproducible builds: says nothing
    ("0001-01-01T00:00:00Z", None),
    ("yesterday", None),
    (12345, None),
    (None, None),
])
def test_created(raw: object, expected: datetime | None) -> None:
    assert parse_created(raw) == expected


D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


def test_index_entry_prefers_linux_amd64_and_skips_attestations() -> None:
    attestation = {"digest": D1, "platform": {"os": "unknown", "architecture": "unknown"}}
    arm = {"digest": D2, "platform": {"os": "linux", "architecture": "arm64"}}
    amd = {"digest": D3, "platform": {"os": "linux", "architecture": "amd64"}}
    assert pick_manifest({"manifests": [attestation, arm, amd]}) == D3
    assert pick_manifest({"manifests": [attestation, arm]}) == D2
    assert pick_manifest({"manifests": [{"digest": "../../x"}]}) is None


def test_registry_words_are_sanitised() -> None:
    body = json.dumps({"errors": [{"code": "DENIED", "message": "no\x1b]0;pwned\x07 way"}]})
    assert registry_words(body.encode()) == "no way"
    assert registry_words(b"<html>\x1b[2Jbad gateway</html>") == "<html>bad gateway</html>"


# --------------------------------------------------------- against a fake registry


def fake_registry(routes: dict[str, httpx.Response]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        return routes.get(request.url.path, httpx.Response(404, json={"errors": [
            {"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}))
    return httpx.MockTransport(handle)


def image(tag_digest: str, config: str, created: str) -> dict[str, httpx.Response]:
    return {
        f"/v2/app/manifests/{tag_digest}": httpx.Response(200, json={"config": {"digest": config}}),
        f"/v2/app/blobs/{config}": httpx.Response(200, json={"created": created}),
    }


def test_tags_follow_an_index_and_come_back_newest_first() -> None:
    index = {"manifests": [{"digest": D1, "platform": {"os": "linux", "architecture": "amd64"}}]}
    routes = {
        "/v2/app/tags/list": httpx.Response(200, json={"tags": ["1.0.0", "2.0.0", "bad/tag"]}),
        "/v2/app/manifests/2.0.0": httpx.Response(200, json=index),
        **image(D1, D2, "2026-11-23T09:00:00Z"),
        **image("1.0.0", D3, "2026-11-23T12:00:00Z"),
    }
    found = RegistryTags(lambda: fake_registry(routes)).tags("registry.test/app:2.0.0")
    assert found == [LocalImage("1.0.0", D3, at(12)), LocalImage("2.0.0", D2, at(9))]


def test_an_unreadable_tag_is_offered_undated() -> None:
    routes = {"/v2/app/tags/list": httpx.Response(200, json={"tags": ["1.0.0", "latest"]}),
              **image("latest", D1, "2026-11-23T12:00:00Z")}
    found = RegistryTags(lambda: fake_registry(routes)).tags("registry.test/app")
    assert found == [LocalImage("latest", D1, at(12)), LocalImage("1.0.0", "", None)]


def test_only_the_highest_versions_are_listed_and_dated() -> None:
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path.endswith("/tags/list"):
            return httpx.Response(200, json={"tags": [f"1.{n}.0" for n in range(150)]})
        return httpx.Response(404)

    found = RegistryTags(lambda: httpx.MockTransport(handle)).tags("registry.test/app")
    assert len(found) == registry.MAX_TAGS
    assert found[0].tag == "1.149.0" and found[-1].tag == "1.50.0"
    assert len([p for p in asked if "/manifests/" in p]) == registry.MAX_DATED
    assert "/v2/app/manifests/1.149.0" in asked and "/v2/app/manifests/1.119.0" not in asked


def test_refusals_carry_the_registry_words() -> None:
    routes = {"/v2/app/tags/list": httpx.Response(403, json={"errors": [
        {"code": "DENIED", "message": "requested access to the resource is denied"}]})}
    with pytest.raises(ActionFailed, match=r"access refused.*resource is denied") as caught:
        RegistryTags(lambda: fake_registry(routes)).tags("registry.test/app")
    assert "credentials" in caught.value.hint


def test_an_oversized_answer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "MAX_BODY_BYTES", 1024)
    routes = {"/v2/app/tags/list": httpx.Response(200, json={"tags": ["x" * 2000]})}
    client = RegistryClient("registry.test", transport=fake_registry(routes))
    with pytest.raises(ActionFailed, match="larger than"):
        client.tags("app")


def test_a_next_page_on_another_host_is_not_followed() -> None:
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, json={"tags": ["1"]},
                              headers={"Link": '<https://evil.test/v2/x>; rel="next"'})

    client = RegistryClient("registry.test", transport=httpx.MockTransport(handle))
    assert client.tags("app") == ["1"]
    assert asked == ["https://registry.test/v2/app/tags/list?n=1000"]
