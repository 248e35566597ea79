"""A real container started with credentials that no name rule catches: ``opsui inspect
--json`` and the detail view's data (locally and over SSH) show them masked, and the
ordinary env beside them as it is."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from docker.models.containers import Container

from opsui.domain.ports import HostConnection

from .helpers import APP_HEALTHY

# Made-up credentials in the real shapes (none of them is valid anywhere).
SECRETS = {
    "GITHUB_PAT": "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "STRIPE_SK": "sk_live_" + "51Hx9QkLmN0pQrStUvWxYz12",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0000AAAA/B0000BBBB/"
                         "XXXXXXXXXXXXXXXXXXXXXXXX",
    "CI_READ_ID": "AKIAIOSFODNN7EXAMPLE",
    "MIRROR": "https://deploy:hunter2horse@git.example.com/repo.git",
}
ORDINARY = {"LANG": "C.UTF-8", "APP_VERSION": "2.0.0-rc.1",
            "HOMEPAGE": "https://example.com/docs/getting-started"}
SHOWN = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/••••••",
         "MIRROR": "https://deploy:••••••@git.example.com/repo.git",
         "GITHUB_PAT": "••••••", "STRIPE_SK": "••••••", "CI_READ_ID": "••••••"}


def assert_masked(env: dict[str, str], text: str) -> None:
    for name, value in SECRETS.items():
        assert value not in text and env[name] == SHOWN[name], (name, env[name])
    assert "hunter2horse" not in text and "T0000AAAA" not in text
    for name, value in ORDINARY.items():
        assert env[name] == value
    assert env["PATH"].startswith("/")  # the image's own env, untouched


def test_inspect_json_masks_credentials_by_their_shape(
        make_container: Callable[..., Container], tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY, environment={**SECRETS, **ORDINARY})
    result = subprocess.run([sys.executable, "-m", "opsui", "--host", "local", "inspect",
                             str(container.name), "--json"], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_masked(json.loads(result.stdout)["env"], result.stdout)


def test_the_detail_view_data_masks_them_locally_and_over_ssh(
        make_container: Callable[..., Container], any_host: HostConnection) -> None:
    container = make_container(APP_HEALTHY, environment={**SECRETS, **ORDINARY})
    detail = any_host.engine.inspect(str(container.id))
    assert_masked(dict(detail.env), repr(detail))
