"""A compose service as its containers' labels name it, and what compose would do to it.

Compose writes where a project lives onto every container it makes (project, service,
working dir, config files, env file, its own version), so opsui reads the project from
the host without being told, and asks compose itself (``config --hash``) what ``up -d``
would want: a container whose ``config-hash`` label differs is recreated by the next
``up -d``. opsui never rewrites a compose file; it may move the one ``.env`` line the
operator named as the app's pin (:func:`set_env_line`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
CONFIG_HASH_LABEL = "com.docker.compose.config-hash"
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"
CONFIG_FILES_LABEL = "com.docker.compose.project.config_files"
ENV_FILE_LABEL = "com.docker.compose.project.environment_file"
VERSION_LABEL = "com.docker.compose.version"
IMAGE_LABEL = "com.docker.compose.image"
"""Compose v2 (2.2x) records the image id it ran and recreates when its file's image
resolves to another id, whatever the config hash says."""


@dataclass(frozen=True)
class ComposeProject:
    """Where one compose service's project lives on its host."""

    project: str
    service: str
    working_dir: str
    config_files: tuple[str, ...]
    """Absolute paths on the host."""
    env_file: str
    """The project's env file (``.env`` in the working dir unless compose was told)."""
    v1: bool
    """Made by docker-compose 1.x (``docker-compose``), else compose v2 (``docker compose``)."""


def compose_project(labels: Mapping[str, str]) -> ComposeProject | None:
    """The project of a container compose made, or None (not compose's, or too little
    recorded to find its files)."""
    project, service = labels.get(PROJECT_LABEL, ""), labels.get(SERVICE_LABEL, "")
    working_dir = labels.get(WORKING_DIR_LABEL, "")
    if not (project and service and working_dir.startswith("/")):
        return None
    files = tuple(posixpath.join(working_dir, f)
                  for f in labels.get(CONFIG_FILES_LABEL, "").split(",") if f)
    env_files = [f for f in labels.get(ENV_FILE_LABEL, "").split(",") if f]
    env_file = posixpath.join(working_dir, env_files[0] if env_files else ".env")
    return ComposeProject(project, service, working_dir, files, env_file,
                          labels.get(VERSION_LABEL, "").startswith("1."))


class ComposeHost(Protocol):
    """Compose and the project's env file on the host (locally, or over SSH).

    Raises OpsuiError (ActionFailed: compose failed or is missing; HostError: the link).
    """

    def config_hash(self, project: ComposeProject, env: Mapping[str, str]) -> str:
        """``config --hash SERVICE`` in the project, ``env`` overriding its env file."""
        ...

    def service_image(self, project: ComposeProject, env: Mapping[str, str]) -> str:
        """The image compose's resolved config names for the service ("" if none)."""
        ...

    def image_id(self, ref: str) -> str:
        """The id of image ``ref`` on the host ("" when it is not there)."""
        ...

    def read(self, path: str) -> bytes | None: ...

    def write_atomic(self, path: str, data: bytes) -> None:
        """Replace the file in one rename (a reader sees the old or the new file)."""
        ...


_VAR = re.compile(rb"^[A-Za-z_][A-Za-z0-9_]*$")


def env_line_value(text: bytes, var: str) -> str | None:
    """The value ``var`` has in an env file (the last assignment wins), or None."""
    found: str | None = None
    for line in text.splitlines():
        match = _assignment(line, var)
        if match is not None:
            found = match.decode("utf-8", "replace").strip().strip("'\"")
    return found


def set_env_line(text: bytes, var: str, value: str) -> bytes:
    """``text`` with ``var``'s line(s) saying ``value``; every other byte as it was.
    Absent, the line is appended."""
    if not _VAR.match(var.encode()) or any(ch in value for ch in "\n\r"):
        raise ValueError(f"cannot pin {var!r} to {value!r}")
    lines = text.splitlines(keepends=True)
    out, done = [], False
    for line in lines:
        body = line.rstrip(b"\r\n")
        if _assignment(body, var) is not None:
            prefix = body[: len(body) - len(body.lstrip())]
            export = b"export " if body.lstrip().startswith(b"export ") else b""
            out.append(prefix + export + f"{var}={value}".encode() + line[len(body):])
            done = True
        else:
            out.append(line)
    if not done:
        if out and not out[-1].endswith(b"\n"):
            out.append(b"\n")
        out.append(f"{var}={value}\n".encode())
    return b"".join(out)


def _assignment(line: bytes, var: str) -> bytes | None:
    stripped = line.strip()
    if stripped.startswith(b"export "):
        stripped = stripped[len(b"export "):].lstrip()
    key, eq, value = stripped.partition(b"=")
    return value if eq and key.strip() == var.encode() else None
