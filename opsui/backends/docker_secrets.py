"""Hiding credentials in the environment a container was started with.

The detail view shows a container's env, and a screen is easily shared or recorded, so
values whose name suggests a credential, and passwords embedded in URLs or
``password=`` pairs, are replaced before the text leaves the backend. Kept apart from
the rest of the mapping so the whole masking policy can be read and reviewed in one place.
"""

from __future__ import annotations

import re

from opsui.domain.sanitize import clean

MASK = "••••••"


# Names that hold secrets: whole words anywhere, or a KEY/AUTH/... segment of FOO_BAR names.
_SECRET_WORDS = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|APIKEY|ACCESSKEY|AUTHORIZATION"
)
_SECRET_SEGMENTS = re.compile(
    r"(?:^|[_.-])(?:[A-Z0-9]*KEYS?|O?AUTH|DSN|PASS|PWD|PW|SALT)(?:$|[_.-])"
)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^\s/]*(?=@)")
_KV_PASSWORD = re.compile(r"(?i)(?P<head>\b(?:password|passwd|pwd)=)[^\s;&]+")


def is_secret_name(name: str) -> bool:
    """Whether an env variable's name suggests its value is a credential."""
    upper = name.upper()
    if upper == "PWD":  # the working directory, not a password
        return False
    return bool(_SECRET_WORDS.search(upper) or _SECRET_SEGMENTS.search(upper))


def mask_value(value: str) -> str:
    """Hide passwords inside any value: ``scheme://user:pw@host`` and ``password=...``."""
    value = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, value)
    return _KV_PASSWORD.sub(lambda m: m.group("head") + MASK, value)


def mask_env(env: object) -> tuple[tuple[str, str], ...]:
    """``["K=V", ...]`` as sanitised pairs, secret-looking values replaced by a mask."""
    pairs = []
    for item in env if isinstance(env, list) else []:
        key, _, value = str(item).partition("=")
        shown = MASK if is_secret_name(key) and value else mask_value(value)
        pairs.append((clean(key), clean(shown)))
    return tuple(pairs)
