"""Errors that an operator reads.

Every error carries ``hint``: what to do next. The UI shows ``str(err)`` and the hint
on the affected host or in a notification; the CLI prints both and exits non-zero.
Backends translate library exceptions (docker, paramiko, httpx, OSError) into these,
so nothing above the backends has to know those libraries.

Message and hint go through :func:`~opsui.domain.sanitize.clean_block` here, once for
every error: they quote container names, remote stderr and library exception text,
and the CLI prints them straight to the terminal.
"""

from __future__ import annotations

from opsui.domain.sanitize import clean_block


class OpsuiError(Exception):
    """Base class: a message for a person plus what they can do about it."""

    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(clean_block(message))
        if hint:
            self.hint = clean_block(hint)


class ConfigError(OpsuiError):
    """opsui.toml (or an OPSUI_* variable) is wrong: names the file, key and expectation."""

    def __init__(self, source: str, key: str, expected: str, got: object | None = None) -> None:
        detail = f"{source}: key '{key}': expected {expected}"
        if got is not None:
            detail += f", got {got!r}"
        super().__init__(detail, hint=f"Fix '{key}' in {source}, or remove it to use the default.")
        self.source = source
        self.key = key
        self.expected = expected


class HostError(OpsuiError):
    """Something went wrong reaching a host; subclasses say what."""


class HostUnreachable(HostError):
    hint = "Check the address and port, that the host is up, and that sshd runs there."


class AuthFailed(HostError):
    hint = "Check the user and key (IdentityFile in ~/.ssh/config, or ssh-agent with ssh-add)."


class HostKeyUnknown(HostError):
    """The host's key is not in known_hosts; we never trust it silently."""

    def __init__(self, host: str, key_type: str, fingerprint: str) -> None:
        super().__init__(
            f"{host}: host key not known ({key_type} {fingerprint})",
            hint=(
                f"Verify the fingerprint out of band, then trust it on purpose with "
                f"`opsui trust-host {host} --key-type {key_type} --fingerprint {fingerprint}`."
            ),
        )
        self.host = host
        self.key_type = key_type
        self.fingerprint = fingerprint


class HostKeyChanged(HostError):
    """The host presents a different key than known_hosts records: a hard failure."""

    def __init__(self, host: str, key_type: str, fingerprint: str) -> None:
        super().__init__(
            f"{host}: HOST KEY CHANGED ({key_type} {fingerprint}); refusing to connect",
            hint=(
                "This may be an attack or a reinstalled host. Confirm with the host's owner, "
                "then remove the old entry with `ssh-keygen -R HOST` before connecting again."
            ),
        )
        self.host = host
        self.key_type = key_type
        self.fingerprint = fingerprint


class EngineUnavailable(HostError):
    """The host is reachable (or local) but no Docker engine answers."""

    hint = (
        "Start the Docker engine (`sudo systemctl start docker`, or `sudo dockerd &`), "
        "or point DOCKER_HOST at one."
    )


class ContainerGone(OpsuiError):
    """The container was removed between listing and acting."""

    hint = "Refresh; it may have been replaced by a deploy or removed by someone else."


class ActionRefused(OpsuiError):
    """The safety gate refused an action (read-only host, missing confirmation...)."""


class ActionFailed(OpsuiError):
    """The engine refused or failed an action that was allowed."""
