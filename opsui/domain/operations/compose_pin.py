"""Releases of a compose service that the next ``docker compose up -d`` leaves alone.

With ``[apps.NAME] compose_pin = "VAR"`` (the tag variable of the project's ``.env``,
say APP_TAG), a deploy or rollback gives its new container the config hash compose
computes with VAR at the new version (asked of compose on the host *before* the
switch, with VAR set in its environment, so nothing is written until the release
serves), and after a good switch moves VAR's line in the env file (atomically, every
other byte kept; added when absent). Without a pin, the plan says what ``up -d`` would
do afterwards, and :meth:`ComposeAgreement.check` shows the drift.
"""

from __future__ import annotations

from opsui.domain.compose_drift import AGREES, DRIFTS, UNKNOWN, ComposeCheck
from opsui.domain.compose_project import (
    CONFIG_HASH_LABEL,
    IMAGE_LABEL,
    ComposeHost,
    ComposeProject,
    compose_project,
    env_line_value,
    set_env_line,
)
from opsui.domain.errors import ActionFailed, OpsuiError
from opsui.domain.models import Container
from opsui.domain.sanitize import clean


class ComposeAgreement:
    """One app's agreement with compose on its host (``host`` None: compose is not
    reachable from this opsui; nothing is asked, nothing pinned)."""

    def __init__(self, host: ComposeHost | None, pin: str | None) -> None:
        self._host = host
        self.pin = pin

    def project(self, container: Container) -> ComposeProject | None:
        return compose_project(container.labels) if self._host is not None else None

    def labels(self, container: Container, version: str) -> dict[str, str]:
        """The config hash for a new container of ``container``'s service at
        ``version`` under the pin ({} without a pin). Raises OpsuiError: a pinned app
        whose hash compose cannot give is not released (nothing changed yet)."""
        project = self.project(container)
        if project is None or not self.pin or self._host is None:
            return {}
        env = {self.pin: version}
        labels = {CONFIG_HASH_LABEL: self._host.config_hash(project, env)}
        if IMAGE_LABEL in container.labels:  # compose v2 compares the image id too
            image = self._host.service_image(project, env)
            labels[IMAGE_LABEL] = self._host.image_id(image) if image else ""
        return labels

    def move_pin(self, container: Container, version: str) -> str:
        """After a good switch: the env file's pin line says ``version``."""
        project = self.project(container)
        if project is None or not self.pin or self._host is None:
            return ""
        before = self._host.read(project.env_file) or b""
        try:
            after = set_env_line(before, self.pin, version)
        except ValueError as exc:
            raise ActionFailed(str(exc)) from None
        if after != before:
            self._host.write_atomic(project.env_file, after)
        return f"compose pin {project.env_file}: {self.pin}={version}"

    def after_switch(self, container: Container, version: str) -> str:
        """:meth:`move_pin`, saying (not raising) why it could not: the release serves
        either way, and the history must say the pin was left behind."""
        try:
            return self.move_pin(container, version)
        except OpsuiError as exc:
            return f"COMPOSE PIN NOT MOVED ({self.pin}={version}): {exc}"

    def plan_note(self, container: Container, version: str) -> str:
        """What the plan says about compose ("" for a container compose did not make)."""
        project = self.project(container)
        if project is None or self._host is None:
            return ""
        if self.pin:
            try:
                text = self._host.read(project.env_file) or b""
                now = env_line_value(text, self.pin)
            except OpsuiError as exc:
                return f"compose pin {self.pin}: cannot read {project.env_file}: {exc}"
            return (f"pin {self.pin}={now or '(unset)'} -> {version} in {project.env_file} "
                    f"after the switch: `up -d` keeps the release")
        return (f"service {project.service} of compose project {project.project}, no "
                f"compose_pin: its files still name the current image, so compose will "
                f"not agree with this release (see `opsui history`)")

    def check(self, container: Container) -> ComposeCheck | None:
        """Compose's view of the running ``container``; None when compose did not make
        it (or cannot be asked from here)."""
        project = self.project(container)
        if project is None or self._host is None:
            return None
        command = "docker-compose" if project.v1 else "docker compose"
        try:
            file_hash = self._host.config_hash(project, {})
            image = self._host.service_image(project, {})
        except OpsuiError as exc:
            return ComposeCheck(UNKNOWN, clean(f"compose could not be asked: {exc}", 300))
        running = container.labels.get(CONFIG_HASH_LABEL, "")
        says = f"compose file says {image or 'another config'}, running {container.image}"
        if file_hash != running:
            return ComposeCheck(DRIFTS, f"{says}: `{command} up -d` would recreate it")
        if image and image != container.image:
            return ComposeCheck(DRIFTS, f"{says}: `{command} up -d` leaves it only "
                                        f"because it carries the file's config hash; a "
                                        f"change to {project.service} in the file, or "
                                        f"--force-recreate, puts {image} back")
        return ComposeCheck(AGREES, f"`{command} up -d` leaves it ({image or 'same config'})")


def joined(*parts: str) -> str:
    """Step details that said something, in one line."""
    return "; ".join(part for part in parts if part)
