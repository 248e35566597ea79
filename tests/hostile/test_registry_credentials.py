"""A registry that quotes back the credentials it was sent (issue 13): the password
must still reach no screen line, no ``--json``, no ``-vv`` log line.

The registry is a small HTTP server on loopback in this process, playing the hostile
part: every answer to an authenticated request is a 401 whose error body and
challenge repeat the Authorization header and its decoded user:password. ``opsui
tags`` runs as a real process with a docker config holding the credentials (as
``docker login`` writes them), and its whole output is searched.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SECRET = "hostile-Pa55w0rd-9f3"
USER = "ci"
ENCODED = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()


class Quoting(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        sent = self.headers.get("Authorization", "")
        decoded = base64.b64decode(sent.split()[-1]).decode() if sent else ""
        body = json.dumps({"errors": [{"code": "DENIED",
                                       "message": f"you sent {sent} ({decoded})"}]}).encode()
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Basic realm="{decoded or "reg"}"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: pytest's output is not the subject."""


@pytest.fixture
def registry() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Quoting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_credentials_quoted_back_by_a_registry_never_reach_the_output(
        registry: str, tmp_path: Path) -> None:
    docker_config = tmp_path / "docker"
    docker_config.mkdir()
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {registry: {"auth": ENCODED}}}))
    config = tmp_path / "opsui.toml"
    config.write_text(f'[deploy]\nstate_dir = "{tmp_path / "state"}"\n'
                      f'[apps.web]\ncontainer = "opsui-t-absent"\n'
                      f'image = "{registry}/team/app"\n')
    env = {**os.environ, "DOCKER_CONFIG": str(docker_config),
           "XDG_STATE_HOME": str(tmp_path / "xdg")}
    outputs = []
    for extra in (["--json"], []):
        result = subprocess.run(
            [sys.executable, "-m", "opsui", "-vv", "--config", str(config), "--host", "local",
             "tags", "web", *extra], capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=60, env=env)
        assert result.returncode == 1, result.stderr
        assert "HTTP 401" in result.stderr and f"docker login {registry}" in result.stderr
        outputs += [result.stdout, result.stderr]
    for text in outputs:
        assert SECRET not in text and ENCODED not in text
    assert "[hidden]" in outputs[1]  # the registry's words are shown, the secret is not
