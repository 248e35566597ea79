"""Credentials for an engine's pull, and what to say when the registry refuses it.

The engine pulls with whatever ``X-Registry-Auth`` the client sends; the docker CLI
sends the credentials of ITS user's config. opsui sends those of the host's docker
config (:mod:`~opsui.backends.docker_credentials`), so a private image pulls on an SSH
host with the host user's ``docker login``, and a refusal says where to log in. The
engine words a refused pull ("no basic auth credentials", "unauthorized", "pull access
denied"); whatever it says is stripped of the secrets sent before anyone reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsui.backends.docker_credentials import (
    DockerCredentials,
    RegistryCredentials,
    server_address,
)

REFUSALS = ("no basic auth credentials", "unauthorized", "authentication required",
            "access denied", "denied:", "401", "403")
"""How engines word a pull the registry refused for want of (valid) credentials."""


@dataclass(frozen=True)
class PullAuth:
    """What a pull from ``registry`` sends, and how its refusals are explained."""

    registry: str
    store: DockerCredentials
    credentials: RegistryCredentials | None

    @classmethod
    def lookup(cls, store: DockerCredentials, registry: str) -> PullAuth:
        """Raises CredentialsError (nothing pulled) when the config's helper cannot answer."""
        return cls(registry, store, store.get(registry))

    @property
    def headers(self) -> dict[str, str]:
        """``X-Registry-Auth`` for the engine; none without credentials."""
        if self.credentials is None:
            return {}
        return {"X-Registry-Auth": self.credentials.engine_header(self.registry)}

    def explain(self, said: str) -> tuple[str, str | None]:
        """The engine's words without secrets, plus, for a registry refusal, why and
        where to run ``docker login`` (the hint); ``(words, None)`` for other errors."""
        words = self.credentials.redact(said) if self.credentials else said
        if not any(word in words.lower() for word in REFUSALS):
            return words, None
        place = self.store.place
        if self.credentials is not None:
            why = (f"the registry refused the credentials for "
                   f"{server_address(self.registry)} from {self.credentials.source}")
        else:
            why = self.store.describe_none(self.registry)
        return f"{words}; {why}; {place.advice(self.registry)}", place.hint(self.registry)
