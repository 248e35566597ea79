"""Registry credentials found the way a host's docker CLI finds them (issue 13).

Operators run ``docker login`` on the host; opsui must then read tags, digests and pull
with the same credentials, and for an SSH host those of the host's user, not the
operator's. The docker CLI reads ``$DOCKER_CONFIG/config.json`` (default
``~/.docker/config.json``) and, for one registry, takes the first of:

1. ``credHelpers[REGISTRY]``: run ``docker-credential-NAME get``;
2. ``credsStore``: the same with that helper, for every registry;
3. ``auths[REGISTRY]``: ``auth`` (base64 ``user:password``), or ``username`` and
   ``password``, or ``identitytoken``.

Keys are matched like the CLI's ``ConvertToHostname``: ``https://``/``http://`` and any
path are dropped, so ``https://registry.example.com/v2/`` is the key of
``registry.example.com``; Docker Hub is ``https://index.docker.io/v1/``.

The config file and the helper are reached through a :class:`CommandRunner`: locally a
subprocess, over SSH the host's own shell, so the helper runs ON the host and nothing
is written to the operator's disk. Secrets live only in memory, in
:class:`RegistryCredentials`, whose ``repr`` hides them; no message made here quotes a
helper's answer or the config's values.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsui.domain.errors import ActionFailed
from opsui.domain.ports import CommandRunner
from opsui.domain.sanitize import clean

HUB_KEY = "https://index.docker.io/v1/"
"""The config key (and helper server address) the docker CLI uses for Docker Hub."""
HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
IDENTITY_TOKEN_USER = "<token>"
"""A helper answering this user name means the secret is an identity (refresh) token."""
NOT_FOUND = "credentials not found"
"""What the docker-credential-helpers protocol prints when it has nothing for a server."""
HELPER_SECONDS = 30.0
"""A helper may ask a keychain or a cloud; longer than this and it is treated as failed."""
MAX_CONFIG_BYTES = 1024 * 1024
_HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A helper is a program name on PATH: no slash, so a config cannot name any file."""
_NOT_INSTALLED = (126, 127)


def key_host(key: str) -> str:
    """A config key or registry address as the CLI compares them: no scheme, no path,
    lower case; Docker Hub's spellings all become ``index.docker.io``."""
    text = key.strip()
    for scheme in ("https://", "http://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme):]
    host = text.split("/", 1)[0].lower()
    return "index.docker.io" if host in HUB_NAMES else host


def server_address(registry: str) -> str:
    """What ``docker login REGISTRY`` stores and a helper is asked for: ``host[:port]``,
    or Docker Hub's v1 URL."""
    host = key_host(registry)
    return HUB_KEY if host == "index.docker.io" else host


def login_name(registry: str) -> str:
    """The registry as an operator types it after ``docker login`` (nothing for Hub)."""
    host = key_host(registry)
    return "" if host == "index.docker.io" else host


@dataclass(frozen=True)
class LoginPlace:
    """Where ``docker login`` must run for opsui to find the credentials: the host and
    the user whose docker config opsui reads."""

    host: str
    user: str

    def advice(self, registry: str) -> str:
        """What to do, short enough for a release step's one line."""
        command = f"docker login {login_name(registry)}".rstrip()
        return f"run `{command}` on {self.host} as {self.user}"

    def hint(self, registry: str) -> str:
        return (f"{self.advice(registry).capitalize()}: opsui uses the credentials that "
                "user's docker CLI uses. Nothing was changed.")


@dataclass(frozen=True, repr=False)
class RegistryCredentials:
    """One registry's credentials. Never printed: ``repr``/``str`` name only the source."""

    source: str
    """Where they came from, for messages: ``auths in /path/config.json`` or a helper."""
    username: str = ""
    password: str = field(default="", compare=False)
    identity_token: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        LOG_REDACTION.remember(self)

    def __repr__(self) -> str:
        return f"RegistryCredentials(from {self.source}, secret hidden)"

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value held, so a caller can prove none of them was shown."""
        return tuple(s for s in (self.password, self.identity_token) if s)

    def redact(self, text: str) -> str:
        """``text`` with every secret (and its Basic/base64 forms) replaced: for words a
        registry or an engine sends back, which could quote what they were sent."""
        hidden = text
        forms = [*self.secrets, self.basic().removeprefix("Basic ")] if self.secrets else []
        for secret in sorted(forms, key=len, reverse=True):
            hidden = hidden.replace(secret, "[hidden]")
        return hidden

    def basic(self) -> str:
        """The ``Authorization`` header value for HTTP Basic."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def engine_header(self, registry: str) -> str:
        """``X-Registry-Auth`` for the engine's pull: base64url JSON, as the CLI sends."""
        body: dict[str, str] = {"serveraddress": server_address(registry)}
        if self.identity_token:
            body["identitytoken"] = self.identity_token
        else:
            body["username"] = self.username
            body["password"] = self.password
        return base64.urlsafe_b64encode(json.dumps(body).encode()).decode("ascii")


REDACTED_LOGGERS = ("httpx", "httpcore.http11", "httpcore.http2", "httpcore.connection",
                    "httpcore.proxy", "urllib3.connectionpool", "docker.auth",
                    "docker.api.client", "paramiko.transport")
"""Libraries whose debug lines (``-vv``) quote what a server answered: a registry that
repeats the credentials it was sent (a header, an error body) would put them there."""


class _LogRedaction(logging.Filter):
    """Replaces, in the libraries' log records, every secret this process has read.

    A filter on each library logger (a filter on a parent logger would not see child
    loggers' records), installed when the first credentials are read."""

    def __init__(self) -> None:
        super().__init__("opsui-credentials")
        self._forms: tuple[str, ...] = ()
        """Longest first; replaced whole (never mutated), so filter() needs no lock."""
        self._lock = threading.Lock()
        self._installed = False

    def remember(self, credentials: RegistryCredentials) -> None:
        if not credentials.secrets:
            return
        with self._lock:
            forms = {*self._forms, *credentials.secrets,
                     credentials.basic().removeprefix("Basic ")}
            self._forms = tuple(sorted(forms, key=len, reverse=True))
            if not self._installed:
                for name in REDACTED_LOGGERS:
                    logging.getLogger(name).addFilter(self)
                self._installed = True

    def filter(self, record: logging.LogRecord) -> bool:
        forms = self._forms
        if not forms:
            return True
        try:
            text = record.getMessage()
        except Exception:  # a broken record is the logging module's to report
            return True
        hidden = text
        for form in forms:
            hidden = hidden.replace(form, "[hidden]")
        if hidden != text:
            record.msg, record.args = hidden, None
        return True


LOG_REDACTION = _LogRedaction()


class CredentialsError(ActionFailed):
    """The docker config names a way to the credentials that does not work here."""


@dataclass(frozen=True)
class ConfigFile:
    """A docker config as read: its path on the host and its text ("" when absent)."""

    path: str
    text: str


ConfigReader = Callable[[], ConfigFile]


class DockerCredentials:
    """Credentials for registries from one docker config, through ``runner``.

    ``read_config`` returns the config file (local or through the host's shell); it is
    read again on every lookup, so a ``docker login`` while opsui runs is seen.
    """

    def __init__(self, read_config: ConfigReader, runner: CommandRunner,
                 place: LoginPlace) -> None:
        self._read = read_config
        self._runner = runner
        self.place = place

    def get(self, registry: str) -> RegistryCredentials | None:
        """The credentials for ``registry``, or None when the config has none for it.

        Raises CredentialsError when the config names a helper that is missing or
        fails, or the file is not a docker config."""
        config = self._read()
        doc = _parse(config)
        host = key_host(registry)
        helpers = doc.get("credHelpers")
        helper = _lookup(helpers, host) if isinstance(helpers, Mapping) else None
        store = doc.get("credsStore")
        if isinstance(helper, str) and helper:
            return self._from_helper(helper, registry, config.path)
        if isinstance(store, str) and store:
            found = self._from_helper(store, registry, config.path)
            if found is not None:
                return found
        auths = doc.get("auths")
        entry = _lookup(auths, host) if isinstance(auths, Mapping) else None
        if isinstance(entry, Mapping):
            return _from_auths(entry, f"auths in {config.path}", config.path)
        return None

    def describe_none(self, registry: str) -> str:
        """Why there are no credentials, for a 401 message (no secrets involved)."""
        return (f"no credentials for {server_address(registry)} in the docker config of "
                f"{self.place.user} on {self.place.host}")

    def _from_helper(self, name: str, registry: str, path: str) -> RegistryCredentials | None:
        program = f"docker-credential-{name}"
        if not _HELPER_NAME.fullmatch(name):
            raise CredentialsError(
                f"{clean(path, 200)}: credential helper {clean(name, 64)!r} is not a "
                "program name", hint="credsStore and credHelpers name a "
                "docker-credential-NAME program on PATH; nothing was changed.")
        address = server_address(registry)
        result = self._runner.run([program, "get"], timeout=HELPER_SECONDS,
                                  stdin=address.encode())
        out = result.stdout.decode("utf-8", "replace")
        if result.exit_code in _NOT_INSTALLED:
            raise CredentialsError(
                f"{program} is not installed on {self.place.host} (named by {clean(path, 200)})",
                hint=f"Install {program} on {self.place.host} for {self.place.user}, or "
                     f"remove it from {clean(path, 200)} and run `docker login` again. "
                     "Nothing was changed.")
        if result.exit_code != 0:
            if NOT_FOUND in out.lower() or NOT_FOUND in result.stderr.decode(
                    "utf-8", "replace").lower():
                return None
            raise CredentialsError(
                f"{program} get {address} failed on {self.place.host} "
                f"(exit {result.exit_code}){_said(result.stderr)}",
                hint=f"Try `echo {address} | {program} get` on {self.place.host} as "
                     f"{self.place.user}; nothing was changed.")
        return _from_helper_answer(out, f"{program} on {self.place.host}")


def _said(stderr: bytes) -> str:
    """A helper's complaint, first line only; anything shaped like JSON (an answer that
    may hold a secret) is not quoted."""
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    first = lines[0].strip() if lines else ""
    if not first or first.startswith(("{", "[")):
        return ""
    return f": {clean(first, 200)}"


def _lookup(table: Mapping[str, Any], host: str) -> Any:
    """The entry whose key is ``host`` once normalised (an exact key first)."""
    for key, value in table.items():
        if isinstance(key, str) and key == host:
            return value
    for key, value in table.items():
        if isinstance(key, str) and key_host(key) == host:
            return value
    return None


def _parse(config: ConfigFile) -> dict[str, Any]:
    if not config.text.strip():
        return {}
    try:
        doc = json.loads(config.text)
    except ValueError as exc:
        raise CredentialsError(
            f"{clean(config.path, 200)} is not valid JSON (line {getattr(exc, 'lineno', '?')})",
            hint="The docker CLI cannot read it either; fix or remove it, then run "
                 "`docker login`. Nothing was changed.") from None
    if not isinstance(doc, dict):
        raise CredentialsError(f"{clean(config.path, 200)} is not a docker config "
                               "(not a JSON object)", hint="Nothing was changed.")
    return doc


def _from_auths(entry: Mapping[str, Any], source: str, path: str) -> RegistryCredentials | None:
    token = entry.get("identitytoken")
    encoded = entry.get("auth")
    user = entry.get("username")
    password = entry.get("password")
    if isinstance(encoded, str) and encoded:
        try:
            raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=False)
            user, sep, password = raw.decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            sep = ""
        if not sep:
            raise CredentialsError(f"{clean(path, 200)}: an 'auth' entry is not base64 of "
                                   "user:password", hint="Run `docker login` again; "
                                   "nothing was changed.") from None
    if isinstance(token, str) and token:
        return RegistryCredentials(source, str(user or ""), identity_token=token)
    if isinstance(user, str) and user and isinstance(password, str):
        return RegistryCredentials(source, user, password)
    return None


def _from_helper_answer(out: str, source: str) -> RegistryCredentials | None:
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise CredentialsError(f"{source} did not answer the credential helper protocol "
                               "(a JSON object with Username and Secret)",
                               hint="Nothing was changed.")
    user, secret = doc.get("Username"), doc.get("Secret")
    if not isinstance(secret, str) or not secret:
        return None
    if user == IDENTITY_TOKEN_USER:
        return RegistryCredentials(source, "", identity_token=secret)
    return RegistryCredentials(source, str(user or ""), secret)


# ---------------------------------------------------------------- where the config is


def local_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$DOCKER_CONFIG``, else ``~/.docker``: where this machine's docker CLI looks."""
    environ = os.environ if env is None else env
    found = environ.get("DOCKER_CONFIG")
    return Path(found) if found else Path.home() / ".docker"


def local_reader(config_dir: str | None = None) -> ConfigReader:
    """Reads this machine's docker config (``config_dir`` overrides the environment)."""
    def read() -> ConfigFile:
        folder = Path(config_dir).expanduser() if config_dir else local_config_dir()
        path = folder / "config.json"
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_CONFIG_BYTES + 1)
        except FileNotFoundError:
            return ConfigFile(str(path), "")
        except OSError as exc:
            raise CredentialsError(f"cannot read {clean(str(path), 200)}: "
                                   f"{clean(exc.strerror or str(exc), 100)}",
                                   hint="Nothing was changed.") from None
        return ConfigFile(str(path), _text(data, str(path)))

    return read


REMOTE_READ = ('d="${1:-${DOCKER_CONFIG:-$HOME/.docker}}"; '
               'case $d in "~/"*) d="$HOME/${d#??}";; esac; f="$d/config.json"; '
               'printf "%s\\n" "$f"; [ -e "$f" ] || exit 0; exec cat -- "$f"')
"""Prints the config's path, then the file (nothing when there is none), on the host:
``$1`` (a configured folder; ``~/`` is that user's home), else the session's
DOCKER_CONFIG, else ``~/.docker``."""


def remote_reader(runner: CommandRunner, host: str, config_dir: str | None = None) -> ConfigReader:
    """Reads the docker config of the SSH user on the host, through its shell."""
    def read() -> ConfigFile:
        result = runner.run(["sh", "-c", REMOTE_READ, "sh", config_dir or ""], timeout=30.0)
        path, _, body = result.stdout.partition(b"\n")
        shown = path.decode("utf-8", "replace") or "~/.docker/config.json"
        if result.exit_code != 0:
            raise CredentialsError(
                f"cannot read {clean(shown, 200)} on {host} (exit {result.exit_code})"
                f"{_said(result.stderr)}", hint="Nothing was changed.")
        return ConfigFile(shown, _text(body, shown))

    return read


def _text(data: bytes, path: str) -> str:
    if len(data) > MAX_CONFIG_BYTES:
        raise CredentialsError(f"{clean(path, 200)} is larger than "
                               f"{MAX_CONFIG_BYTES // 1024} KiB; not read",
                               hint="Nothing was changed.")
    return data.decode("utf-8", "replace")
