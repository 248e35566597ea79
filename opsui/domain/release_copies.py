"""Release copies by name: a release keeps the container it replaced as ``NAME.before-rID``
and makes its new one as ``NAME.rID`` until the switch.

A leaf module (it imports nothing of opsui) because both :mod:`opsui.domain.apps` and
:mod:`opsui.domain.logfeed` need it, and apps imports logfeed.
"""

from __future__ import annotations

import re

_RELEASE_COPY = re.compile(r"\.(before-)?r\d{14}-[0-9a-f]{4}$")


def is_release_copy(name: str) -> bool:
    """A kept or not-yet-switched copy (``web.before-r2026...``, ``web.r2026...``)."""
    return bool(_RELEASE_COPY.search(name))


def base_name(name: str) -> str:
    """The name a release copy was made from (``web.before-r2026...-abcd`` -> ``web``)."""
    return _RELEASE_COPY.sub("", name)
