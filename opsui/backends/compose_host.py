"""Compose on the host, through its command runner: the same code locally and over SSH.

:class:`opsui.domain.compose_project.ComposeHost` as commands run where the project
lives, so compose reads the files, the env file and the images *that* host has:
``docker-compose`` for projects made by compose 1.x, ``docker compose`` otherwise,
run in the project's working dir with its files and name from the labels. The pin's
env file is replaced atomically (a temporary file beside it, then ``mv``), its mode
kept.
"""

from __future__ import annotations

from collections.abc import Mapping

from opsui.domain.compose_project import ComposeProject
from opsui.domain.errors import ActionFailed
from opsui.domain.ports import CommandResult, CommandRunner
from opsui.domain.sanitize import clean_block

_IN_DIR = r'cd -- "$1" && shift && exec "$@"'
_READ = r'if [ -e "$1" ]; then cat -- "$1"; else exit 3; fi'
_WRITE = r"""
set -e
tmp="$1.opsui-$$"
cat > "$tmp"
chmod --reference="$1" "$tmp" 2>/dev/null || true
mv -f -- "$tmp" "$1"
"""


class ShellComposeHost:
    """Runs compose and edits the pin's env file through ``runner``."""

    def __init__(self, runner: CommandRunner, host: str, docker_host: str | None = None,
                 timeout: float = 60.0) -> None:
        self._runner = runner
        self._host = host
        self._docker_host = docker_host
        self._timeout = timeout

    def _compose(self, project: ComposeProject, env: Mapping[str, str],
                 *args: str) -> bytes:
        program = ["docker-compose"] if project.v1 else ["docker", "compose"]
        if self._docker_host and not project.v1:
            program = ["docker", "-H", self._docker_host, "compose"]
        files = [arg for path in project.config_files for arg in ("-f", path)]
        setting = [f"{k}={v}" for k, v in env.items()]
        if self._docker_host and project.v1:
            setting.append(f"DOCKER_HOST={self._docker_host}")
        argv = ["sh", "-c", _IN_DIR, "sh", project.working_dir, "env", *setting, *program,
                "-p", project.project, *files, *args]
        result = self._runner.run(argv, self._timeout)
        if result.exit_code != 0:
            raise self._failed(f"{' '.join(program)} {' '.join(args)} in "
                               f"{project.working_dir}", result)
        return result.stdout

    def config_hash(self, project: ComposeProject, env: Mapping[str, str]) -> str:
        out = self._compose(project, env, "config", "--hash", project.service)
        for line in out.decode("utf-8", "replace").splitlines():
            name, _, value = line.strip().partition(" ")
            if name == project.service and value:
                return value.strip()
        raise ActionFailed(f"{self._host}: compose printed no hash for {project.service}")

    def service_image(self, project: ComposeProject, env: Mapping[str, str]) -> str:
        return image_of(self._compose(project, env, "config").decode("utf-8", "replace"),
                        project.service)

    def image_id(self, ref: str) -> str:
        docker = ["docker", "-H", self._docker_host] if self._docker_host else ["docker"]
        result = self._runner.run([*docker, "image", "inspect", "-f", "{{.Id}}", ref],
                                  self._timeout)
        return result.stdout.decode("ascii", "replace").strip() if result.exit_code == 0 \
            else ""

    def read(self, path: str) -> bytes | None:
        result = self._runner.run(["sh", "-c", _READ, "sh", path], self._timeout)
        if result.exit_code == 3:
            return None
        if result.exit_code != 0:
            raise self._failed(f"cannot read {path}", result)
        return result.stdout

    def write_atomic(self, path: str, data: bytes) -> None:
        result = self._runner.run(["sh", "-c", _WRITE, "sh", path], self._timeout, data)
        if result.exit_code != 0:
            raise self._failed(f"cannot write {path}", result)

    def _failed(self, what: str, result: CommandResult) -> ActionFailed:
        detail = clean_block(result.stderr, 500).strip() or f"exit {result.exit_code}"
        return ActionFailed(f"{self._host}: {what}: {detail}")


def image_of(config_yaml: str, service: str) -> str:
    """The ``image:`` of ``service`` in compose's normalised ``config`` output (two-space
    indents, services under ``services:``); "" if it names none."""
    in_services = in_service = False
    for line in config_yaml.splitlines():
        if not line.startswith(" "):
            in_services = line.rstrip() == "services:"
            in_service = False
            continue
        if not in_services:
            continue
        if line.startswith("  ") and not line.startswith("   "):
            in_service = line.strip().rstrip(":").strip("'\"") == service
            continue
        stripped = line.strip()
        if in_service and line.startswith("    ") and not line.startswith("     ") \
                and stripped.startswith("image:"):
            return stripped.removeprefix("image:").strip().strip("'\"")
    return ""
