"""Image references split the way Docker reads them."""

from __future__ import annotations

import pytest

from opsui.backends.registry import DOCKER_HUB, ImageRef


@pytest.mark.parametrize(("ref", "expected"), [
    ("nginx", (DOCKER_HUB, "library/nginx", "latest")),
    ("nginx:1.27", (DOCKER_HUB, "library/nginx", "1.27")),
    ("acme/web:2", (DOCKER_HUB, "acme/web", "2")),
    ("127.0.0.1:5000/opsui-test/app:1.0.0", ("127.0.0.1:5000", "opsui-test/app", "1.0.0")),
    ("localhost/app", ("localhost", "app", "latest")),
    ("ghcr.io/o/r@sha256:abc", ("ghcr.io", "o/r", "latest")),
])
def test_parse(ref: str, expected: tuple[str, str, str]) -> None:
    parsed = ImageRef.parse(ref)
    assert (parsed.registry, parsed.repository, parsed.tag) == expected
