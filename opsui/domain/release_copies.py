"""Release copies by name: a release keeps the container it replaced as ``NAME.before-rID``
and makes its new one as ``NAME.rID`` until the switch.

A leaf module (it imports nothing of opsui) because both :mod:`opsui.domain.apps` and
:mod:`opsui.domain.logfeed` need it, and apps imports logfeed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_RELEASE_COPY = re.compile(r"\.(before-)?r\d{14}-[0-9a-f]{4}$")


def is_release_copy(name: str) -> bool:
    """A kept or not-yet-switched copy (``web.before-r2026...``, ``web.r2026...``)."""
    return bool(_RELEASE_COPY.search(name))


def base_name(name: str) -> str:
    """The name a release copy was made from (``web.before-r2026...-abcd`` -> ``web``)."""
    return _RELEASE_COPY.sub("", name)


COMPOSE_PREFIX = "com.docker.compose."
HIDDEN_PREFIX = "opsui.hidden."
"""A kept container's compose labels live on under this prefix: compose counts every
container carrying ``com.docker.compose.project``/``service`` as a replica of the
service, so a kept release with them would be started or removed by ``up -d``."""
KEPT_FROM_LABEL = "opsui.kept-from"
"""The id of the container a kept copy was made from (found again after a crash)."""


def has_compose_labels(labels: Mapping[str, str]) -> bool:
    return any(key.startswith(COMPOSE_PREFIX) for key in labels)


def has_hidden_labels(labels: Mapping[str, str]) -> bool:
    return any(key.startswith(HIDDEN_PREFIX + COMPOSE_PREFIX) for key in labels)


def hide_compose_labels(labels: Mapping[str, str], kept_from: str) -> dict[str, str]:
    """The labels of a kept copy: compose's moved under :data:`HIDDEN_PREFIX`."""
    out = {(HIDDEN_PREFIX + key if key.startswith(COMPOSE_PREFIX) else key): value
           for key, value in labels.items()}
    out[KEPT_FROM_LABEL] = kept_from
    return out


def restore_compose_labels(labels: Mapping[str, str],
                           overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The labels of a kept copy brought back to serve: compose's under their own keys
    again (``overrides``: e.g. the config hash compose computes now)."""
    out = {key.removeprefix(HIDDEN_PREFIX): value for key, value in labels.items()
           if key != KEPT_FROM_LABEL}
    return {**out, **(overrides or {})}
