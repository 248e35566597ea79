#!/usr/bin/env python3
"""Tiny HTTP helper for the test bed scripts (stdlib only: it runs before any venv exists).

    registry_tool.py wait URL TIMEOUT        exit 0 once URL answers (any HTTP status < 500)
    registry_tool.py digest REGISTRY REPO TAG print the manifest digest of REPO:TAG, or nothing

digest sends Basic credentials when REGISTRY_TOOL_BASIC=USER:PASSWORD is set (the
test bed's authenticated registry; an environment variable keeps them out of ps).
"""

from __future__ import annotations

import base64
import os
import sys
import time
import urllib.error
import urllib.request

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


def answers(url: str) -> bool:
    """True when something speaks HTTP at url without a server error."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status) < 500
    except urllib.error.HTTPError as err:
        # 401 from an auth-enabled registry still proves it is up.
        return err.code < 500
    except (OSError, ValueError):
        return False


def wait(url: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(url):
            return 0
        time.sleep(0.1)
    print(f"timed out after {timeout:.0f}s waiting for {url}", file=sys.stderr)
    return 1


def digest(registry: str, repo: str, tag: str) -> int:
    headers = {"Accept": MANIFEST_TYPES}
    basic = os.environ.get("REGISTRY_TOOL_BASIC")
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
    req = urllib.request.Request(
        f"http://{registry}/v2/{repo}/manifests/{tag}", method="HEAD", headers=headers
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            print(resp.headers.get("Docker-Content-Digest", ""))
    except urllib.error.HTTPError as err:
        if err.code != 404:
            print(f"registry answered {err.code} for {repo}:{tag}", file=sys.stderr)
            return 1
    except OSError as err:
        print(f"registry unreachable: {err}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "wait":
        return wait(argv[1], float(argv[2]))
    if len(argv) == 4 and argv[0] == "digest":
        return digest(argv[1], argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
