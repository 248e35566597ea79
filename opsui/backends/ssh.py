"""One SSH connection per host: where it goes, whether we trust it, and its channels.

Everything opsui does on a remote host (Docker API, commands, HTTP health probes)
rides on a single paramiko Transport opened here, so a host costs one TCP connection
and one authentication, and a dropped link is noticed in one place. The rules are
OpenSSH's, because operators already know them:

* the target is an ``ssh://`` URL, ``user@host``, ``host`` or an alias, resolved through
  ``~/.ssh/config`` (HostName, User, Port, IdentityFile, UserKnownHostsFile ...), with
  parts written explicitly in the URL winning;
* a host behind ProxyJump hosts is reached through a direct-tcpip channel of each in
  turn, or through a ProxyCommand's stdin/stdout (:mod:`opsui.backends.ssh_jump` reads
  those rules); every hop is checked and authenticated as below, and named on failure;
* the host key is checked against known_hosts *before* we authenticate; an unknown key
  is refused with its SHA256 fingerprint, a changed key is a hard failure, and a key is
  only ever added by :func:`trust_host_key`, after the operator confirmed it;
* authentication uses the configured identity files, the agent and the default keys;
* a watchdog sends keepalives that need an answer, so a silently dead link is closed
  (and :meth:`SshConnection.is_alive` turns False) within about three intervals.

Library exceptions never leave this module: they become :mod:`opsui.domain.errors`.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import getpass
import hashlib
import logging
import os
import re
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paramiko

from opsui.backends.ssh_jump import (
    CommandSocket,
    RawProxySSHConfig,
    expand_tokens,
    first_proxy,
    parse_jumps,
)
from opsui.domain.errors import (
    AuthFailed,
    ConfigError,
    HostError,
    HostKeyChanged,
    HostKeyUnknown,
    HostUnreachable,
)
from opsui.domain.ports import CommandResult
from opsui.domain.sanitize import clean

# paramiko logs a dead link at ERROR level; without a handler Python would print that
# on stderr, under the TUI. We report those failures ourselves, as opsui errors.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

DEFAULT_PORT = 22
DEFAULT_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")
GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
DIAL_STDIO = "docker system dial-stdio"
TIMEOUT_EXIT_CODE = 124  # what coreutils' timeout(1) and the local runner report
READER_POLL_SECONDS = 1.0
"""How often an idle transport's reader thread wakes (paramiko's default: 0.1 s)."""


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class SshTarget:
    """Where to connect, after ``~/.ssh/config`` has been applied."""

    alias: str
    """The target as written (alias, ``user@host`` or URL): what to show and to type again."""
    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...] = ()
    known_hosts_files: tuple[str, ...] = ()
    """UserKnownHostsFile and GlobalKnownHostsFile entries from ssh_config."""
    identities_only: bool = False
    host_key_alias: str | None = None
    proxy_command: str | None = None
    """ProxyCommand (tokens expanded): run to reach this host, its stdin/stdout the link."""
    via: tuple[SshTarget, ...] = ()
    """The ProxyJump hosts, in the order they are passed, each resolved through
    ssh_config; the first may itself have a ``proxy_command``."""

    @property
    def proxy(self) -> str | None:
        """How ssh_config says this host is reached, for messages (None: directly)."""
        if self.via:
            return ",".join(hop.alias for hop in self.via)
        return self.proxy_command

    @property
    def route(self) -> tuple[SshTarget, ...]:
        """Every host connected to on the way, this one last."""
        return (*self.via, self)

    @property
    def label(self) -> str:
        """``user@host:port`` for messages."""
        return f"{self.user}@{self.hostname}:{self.port}"

    @property
    def known_hosts_name(self) -> str:
        """The name known_hosts records this host under (``[host]:port`` off port 22)."""
        return known_hosts_name(self.host_key_alias or self.hostname, self.port)


def known_hosts_name(host: str, port: int) -> str:
    return host if port == DEFAULT_PORT else f"[{host}]:{port}"


_SPEC_HELP = "ssh://user@host:port, user@host, host, or a Host alias from ssh_config"


def _split_spec(spec: str) -> tuple[str, str | None, int | None]:
    """(host, user, port) from a target spec; user/port are None when not written."""
    text = spec.strip()
    if text.startswith("ssh://"):
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise ConfigError("ssh target", "ssh", _SPEC_HELP, spec) from None
        if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.password:
            raise ConfigError("ssh target", "ssh", _SPEC_HELP, spec)
        user = unquote(parts.username) if parts.username else None
        return parts.hostname, user, port
    if "://" in text:
        raise ConfigError("ssh target", "ssh", _SPEC_HELP, spec)
    user, _, host = text.rpartition("@")
    if not host or any(c.isspace() for c in text) or host.startswith("-"):
        raise ConfigError("ssh target", "ssh", _SPEC_HELP, spec)
    return host.lower(), (user or None), None


def load_ssh_config(path: str | None) -> paramiko.SSHConfig:
    """The ssh_config to apply: ``path`` if given (must exist), else ``~/.ssh/config``."""
    if path is not None:
        config_path = Path(path).expanduser()
        if not config_path.is_file():
            raise ConfigError(str(config_path), "ssh.config", "an existing ssh_config file")
    else:
        config_path = Path("~/.ssh/config").expanduser()
        if not config_path.is_file():
            return RawProxySSHConfig()
    try:
        return RawProxySSHConfig.from_path(str(config_path))
    except (OSError, UnicodeDecodeError, paramiko.ssh_exception.ConfigParseError) as exc:
        raise ConfigError(str(config_path), "(file)", f"a valid ssh_config ({exc})") from None


def _config_paths(value: str | list[str] | None) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, list):
        items = value
    else:
        try:
            items = shlex.split(value)
        except ValueError:  # unbalanced quotes: take the words as they are
            items = value.split()
    return tuple(os.path.expanduser(item) for item in items if item.lower() != "none")


MAX_JUMPS = 8
"""Longest ProxyJump route followed (OpenSSH has no limit but loops forever on a cycle)."""


def resolve_target(spec: str, ssh_config_path: str | None = None) -> SshTarget:
    """Apply ssh_config to a target spec; what the spec states explicitly wins.

    ProxyJump hosts are resolved too (into ``via``), as ``ssh -J`` would: the first
    jump host with its own ProxyJump/ProxyCommand, the later ones without theirs.
    """
    config = load_ssh_config(ssh_config_path)
    return _resolve(spec, config, ssh_config_path or "~/.ssh/config", ())


def _resolve(spec: str, config: paramiko.SSHConfig, source: str,
             seen: tuple[str, ...], follow_proxy: bool = True) -> SshTarget:
    host, user, port = _split_spec(spec)
    try:
        options = config.lookup(host)
    except paramiko.SSHException as exc:  # Match/canonicalisation trouble
        raise ConfigError(source, f"Host {host}", "settings paramiko can apply",
                          str(exc)) from None
    if port is None:
        raw_port = options.get("port", str(DEFAULT_PORT))
        if not str(raw_port).isdigit() or not 0 < int(raw_port) < 65536:
            raise ConfigError(source, f"Host {host} / Port",
                              "a port number", raw_port)
        port = int(raw_port)
    known = _config_paths(options.get("userknownhostsfile"))
    global_known = options.get("globalknownhostsfile")
    known += _config_paths(global_known) if global_known else GLOBAL_KNOWN_HOSTS
    target = SshTarget(
        alias=spec.strip(),
        hostname=options.get("hostname", host),
        port=port,
        user=user or options.get("user") or getpass.getuser(),
        identity_files=_config_paths(options.get("identityfile")),
        known_hosts_files=known,
        identities_only=options.get("identitiesonly", "no").lower() == "yes",
        host_key_alias=options.get("hostkeyalias"),
    )
    proxy = first_proxy(options) if follow_proxy else None
    if proxy is None:
        return target
    kind, raw = proxy
    value = expand_tokens(raw, key="ProxyCommand" if kind == "proxycommand" else "ProxyJump",
                          host=target.hostname, port=target.port, user=target.user,
                          alias=host, source=f"{source}: Host {host}")
    if kind == "proxycommand":
        return dataclasses.replace(target, proxy_command=value)
    # A loop is a jump host whose own ProxyJump leads back to a host already being
    # resolved (``Host *`` with ``ProxyJump bastion`` also matches the bastion). The
    # same address twice is no loop: each hop's address is as the hop before sees it.
    path = (*seen, host)
    jumps = parse_jumps(value, f"{source}: Host {host}")
    if host in seen or len(path) + len(jumps) > MAX_JUMPS + 1:
        raise ConfigError(source, f"Host {host} / ProxyJump",
                          f"a route without loops, at most {MAX_JUMPS} jump hosts",
                          " -> ".join([*path, value]))
    first = _resolve(jumps[0], config, source, path)
    later = [_resolve(hop, config, source, path, follow_proxy=False) for hop in jumps[1:]]
    via = (*first.route, *later)
    if len(via) > MAX_JUMPS:
        raise ConfigError(source, f"Host {host} / ProxyJump",
                          f"at most {MAX_JUMPS} jump hosts", value)
    return dataclasses.replace(target, via=via)


# ------------------------------------------------------------------------- host keys


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:...`` form: base64 of the SHA-256 of the key blob, no padding."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _name_matches(name: str, pattern: str) -> bool:
    if pattern.startswith("|1|"):
        try:
            return paramiko.HostKeys.hash_host(name, pattern) == pattern
        except (ValueError, AssertionError):
            return False
    # ssh patterns know only * and ?; "[host]:port" brackets are literal here.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name, flags=re.IGNORECASE) is not None


def _entry_matches(name: str, patterns: list[str]) -> bool:
    positive = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if _name_matches(name, pattern[1:]):
                return False
        elif _name_matches(name, pattern):
            positive = True
    return positive


@dataclass(frozen=True)
class KnownKey:
    key: paramiko.PKey
    revoked: bool
    source: str


def known_keys(name: str, files: Iterable[str]) -> list[KnownKey]:
    """Every key recorded for ``name`` in the given known_hosts files (missing files skipped).

    Read line by line rather than through paramiko.HostKeys, which keeps one key per
    type per host and would hide a second, matching entry.
    """
    found: list[KnownKey] = []
    for path in files:
        try:
            lines = Path(path).expanduser().read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for lineno, raw in enumerate(lines.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            marker = ""
            if line.startswith("@"):
                marker, _, line = line.partition(" ")
                if marker != "@revoked":
                    continue  # @cert-authority: host certificates are not supported
            try:
                entry = paramiko.hostkeys.HostKeyEntry.from_line(line.strip(), lineno)
            except (paramiko.hostkeys.InvalidHostKey, ValueError, paramiko.SSHException):
                continue
            if entry is None or entry.key is None:
                continue
            if marker == "@revoked" or _entry_matches(name, entry.hostnames):
                found.append(KnownKey(entry.key, marker == "@revoked", f"{path}:{lineno}"))
    return found


def verify_host_key(name: str, key: paramiko.PKey, known: list[KnownKey],
                    shown_as: str | None = None) -> None:
    """Accept a key that known_hosts records for ``name``; refuse anything else.

    The errors name the host as ``shown_as`` (the target as the operator wrote it, so
    the hint's ``opsui trust-host ...`` can be typed back), else the known_hosts name.
    """
    blob = key.asbytes()
    shown = shown_as or name
    if any(k.revoked and k.key.asbytes() == blob for k in known):
        raise HostKeyChanged(shown, key.get_name(), fingerprint(key))
    valid = [k for k in known if not k.revoked]
    if any(k.key.asbytes() == blob for k in valid):
        return
    if any(k.key.get_name() == key.get_name() for k in valid):
        raise HostKeyChanged(shown, key.get_name(), fingerprint(key))
    raise HostKeyUnknown(shown, key.get_name(), fingerprint(key))


_RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")


def _prefer_key_types(transport: paramiko.Transport, key_types: Iterable[str]) -> None:
    """Ask for the host key types we already know first, as OpenSSH does.

    Otherwise a host with several keys could present one we have no record of and be
    reported as unknown although we know (and could verify) another of its keys.
    """
    options = transport.get_security_options()
    wanted: list[str] = []
    for key_type in key_types:
        wanted.extend(_RSA_ALGORITHMS if key_type == "ssh-rsa" else (key_type,))
    current = list(options.key_types)
    first = [k for k in dict.fromkeys(wanted) if k in current]
    if first:
        options.key_types = first + [k for k in current if k not in first]


# ---------------------------------------------------------------- low-level connect


def _unreachable(where: str, exc: BaseException, timeout: float) -> HostUnreachable:
    if isinstance(exc, socket.gaierror):
        reason = f"cannot resolve the host name ({exc.strerror or exc})"
    elif isinstance(exc, TimeoutError | socket.timeout):
        reason = f"timed out after {timeout:g} s"
    elif isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror.lower()
    else:
        reason = str(exc) or type(exc).__name__
    return HostUnreachable(f"{where}: {clean(reason, 300)}")


def _open_socket(host: str, port: int, timeout: float) -> socket.socket:
    where = f"{host}:{port}"
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise _unreachable(where, exc, timeout) from None


def _start_transport(host: str, port: int, timeout: float,
                     key_types: Iterable[str] = ()) -> paramiko.Transport:
    """TCP connect and SSH key exchange, each bounded by ``timeout``."""
    return _handshake(_open_socket(host, port, timeout), f"{host}:{port}", timeout, key_types)


_Link = socket.socket | paramiko.Channel | CommandSocket
"""What an SSH transport can ride on: TCP, a jump host's channel, a ProxyCommand."""


def _handshake(sock: _Link, where: str, timeout: float,
               key_types: Iterable[str] = ()) -> paramiko.Transport:
    """SSH key exchange over ``sock``, bounded by ``timeout``; the transport owns sock."""
    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeout
    transport.handshake_timeout = timeout
    transport.auth_timeout = timeout
    _prefer_key_types(transport, key_types)
    done = threading.Event()
    try:
        transport.start_client(event=done)
        if not done.wait(timeout):
            raise HostUnreachable(f"{where}: SSH handshake timed out after {timeout:g} s")
        if not transport.is_active():
            error = transport.get_exception() or paramiko.SSHException("handshake failed")
            reason = clean(str(error) or type(error).__name__, 300)
            if isinstance(sock, CommandSocket) and (said := sock.failure()):
                reason = f"the ProxyCommand ended ({clean(said, 300)})"
            elif "banner" in reason.lower():
                reason += " (is this an SSH server?)"
            raise HostUnreachable(f"{where}: SSH handshake failed: {reason}")
    except BaseException:
        transport.close()
        if isinstance(sock, CommandSocket):
            sock.close()
        raise
    # paramiko's reader thread wakes every 0.1 s to look for a close; twenty idle hosts
    # made that 200 wake-ups a second. A close from our side closes the socket, which
    # that read then sees at once or within this.
    sock.settimeout(READER_POLL_SECONDS)
    return transport


def _hop_link(hop: SshTarget, previous: tuple[SshTarget, paramiko.Transport] | None,
              timeout: float) -> tuple[_Link, str]:
    """How to reach one hop of a route, and how to name that in messages."""
    where = f"{hop.hostname}:{hop.port}"
    if previous is not None:
        jump, transport = previous
        where += f" (from jump host {jump.alias})"
        try:
            channel = transport.open_channel("direct-tcpip", (hop.hostname, hop.port),
                                             ("127.0.0.1", 0), timeout=timeout)
        except paramiko.ChannelException as exc:
            raise HostUnreachable(f"{where}: the jump host could not connect to it "
                                  f"(sshd: {clean(exc.text or str(exc.code))})") from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise HostUnreachable(f"{where}: the jump host's connection failed "
                                  f"({clean(str(exc) or type(exc).__name__)})") from None
        return channel, where
    if hop.proxy_command:
        where += f" (ProxyCommand {clean(hop.proxy_command, 160)})"
        try:
            return CommandSocket(hop.proxy_command), where
        except OSError as exc:
            raise _unreachable(where, exc, timeout) from None
    return _open_socket(hop.hostname, hop.port, timeout), where


def _route_text(route: tuple[SshTarget, ...]) -> str:
    return " -> ".join(hop.alias for hop in route)


def open_route(target: SshTarget, known_hosts: Callable[[SshTarget], list[str]],
               timeout: float, *, scan: bool = False,
               key_type: str | None = None) -> list[paramiko.Transport]:
    """Transports to every host of ``target.route``, each riding on the one before.

    Every hop's key is checked against known_hosts before anything is sent to it, and
    every hop authenticates with its own ssh_config settings (user, IdentityFile,
    the agent). A failure names the hop; the transports opened so far are closed.
    With ``scan`` the last hop only gets as far as presenting its host key (asked
    for as ``key_type`` first, if given), which is neither checked nor trusted.
    """
    route = target.route
    opened: list[paramiko.Transport] = []
    try:
        for index, hop in enumerate(route):
            try:
                previous = (route[index - 1], opened[-1]) if opened else None
                link, where = _hop_link(hop, previous, timeout)
                name = hop.known_hosts_name
                known = known_keys(name, known_hosts(hop))
                last = index == len(route) - 1
                types = ([key_type] if key_type else []) if scan and last else [
                    k.key.get_name() for k in known if not k.revoked]
                transport = _handshake(link, where, timeout, types)
                opened.append(transport)
                if scan and last:
                    break
                verify_host_key(name, transport.get_remote_server_key(), known, hop.alias)
                _authenticate(transport, hop)
            except HostError as exc:
                if len(route) > 1:
                    role = "jump host" if index < len(route) - 1 else "target"
                    exc.args = (clean(f"{_route_text(route)}: hop {index + 1} of "
                                      f"{len(route)} ({role} {hop.alias}) failed: ", 600)
                                + str(exc),)
                raise
    except BaseException:
        for transport in reversed(opened):
            transport.close()
        raise
    return opened


def scan_host_key(hostname: str, port: int = DEFAULT_PORT, key_type: str | None = None,
                  timeout: float = 10.0) -> paramiko.PKey:
    """The host key a server presents now (asking for ``key_type`` first), no auth."""
    transport = _start_transport(hostname, port, timeout, (key_type,) if key_type else ())
    try:
        return transport.get_remote_server_key()
    finally:
        transport.close()


def scan_target_key(target: SshTarget, key_type: str | None = None, timeout: float = 10.0,
                    known_hosts: str | None = None) -> paramiko.PKey:
    """The host key ``target`` presents now, reached the way ssh_config says.

    Through ProxyJump hosts (whose own keys must be known, and who authenticate) or a
    ProxyCommand, so the key of a host behind a bastion can be confirmed and trusted.
    """
    if not target.via and not target.proxy_command:
        return scan_host_key(target.hostname, target.port, key_type, timeout)
    probe = SshConnection(target, known_hosts, timeout)
    transports = open_route(target, probe.known_hosts_files, timeout, scan=True,
                            key_type=key_type)
    try:
        return transports[-1].get_remote_server_key()
    finally:
        for transport in reversed(transports):
            transport.close()


def trust_host_key(host: str, port: int, key_type: str, fingerprint_expected: str,
                   known_hosts_path: str, timeout: float = 10.0,
                   target: SshTarget | None = None) -> str:
    """Record a host key the operator has verified; returns the line written.

    The key is fetched again and must match the type and fingerprint the operator was
    shown (from :class:`HostKeyUnknown`), so nothing is ever trusted that a person did
    not see. An existing, different key of that type is never replaced: that is the
    "changed key" case and needs the old entry removed by hand first. With ``target``
    the key is fetched the way that target is reached (:func:`scan_target_key`).
    """
    key = (scan_target_key(target, key_type, timeout, known_hosts_path) if target
           else scan_host_key(host, port, key_type, timeout))
    name = known_hosts_name(host, port)
    presented = fingerprint(key)
    expected = fingerprint_expected.strip()
    if not expected.startswith("SHA256:"):
        expected = "SHA256:" + expected
    if key.get_name() != key_type or presented != expected.rstrip("="):
        raise HostKeyChanged(name, key.get_name(), presented)
    path = Path(known_hosts_path).expanduser()
    existing = known_keys(name, [str(path)])
    if any(k.key.asbytes() == key.asbytes() and not k.revoked for k in existing):
        return f"{name} {key.get_name()} {key.get_base64()}"
    with contextlib.suppress(HostKeyUnknown):
        verify_host_key(name, key, existing)  # raises HostKeyChanged on a conflict
    line = f"{name} {key.get_name()} {key.get_base64()}"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        if path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            handle.write("\n")
        handle.write(line + "\n")
    return line


# -------------------------------------------------------------------- authentication


def _load_key(path: str) -> paramiko.PKey | None:
    """A private key file, or None when it needs a passphrase (the agent may hold it)."""
    try:
        return paramiko.PKey.from_path(path)
    except paramiko.PasswordRequiredException:
        return None
    except (TypeError, ValueError) as exc:
        # cryptography: "Password was not given but private key is encrypted"
        if "encrypted" in str(exc) or "password" in str(exc).lower():
            return None
        raise


def _public_blob(path: str) -> bytes | None:
    try:
        fields = Path(path + ".pub").read_text(encoding="utf-8").split()
        return base64.b64decode(fields[1])
    except (OSError, IndexError, ValueError):
        return None


def _candidate_keys(target: SshTarget,
                    agent: paramiko.Agent | None) -> Iterator[tuple[str, paramiko.PKey]]:
    """Keys to offer, in OpenSSH's spirit: configured identities, agent, default keys."""
    try:
        agent_keys = list(agent.get_keys()) if agent is not None else []
    except (paramiko.SSHException, OSError, EOFError):  # a stale SSH_AUTH_SOCK
        agent_keys = []
    offered: set[bytes] = set()

    def fresh(key: paramiko.PKey) -> bool:
        blob = key.asbytes()
        if blob in offered:
            return False
        offered.add(blob)
        return True

    def from_file(path: str) -> Iterator[tuple[str, paramiko.PKey]]:
        if not Path(path).is_file():
            return
        try:
            key = _load_key(path)
        except (OSError, ValueError, TypeError, paramiko.SSHException):
            return
        if key is None:  # encrypted: use the agent's copy, if it has one
            blob = _public_blob(path)
            key = next((k for k in agent_keys if blob and k.asbytes() == blob), None)
        if key is not None and fresh(key):
            yield path, key

    for path in target.identity_files:
        yield from from_file(path)
    if target.identities_only:
        return
    for key in agent_keys:
        if fresh(key):
            yield "ssh-agent", key
    if not target.identity_files:
        for name in DEFAULT_KEYS:
            yield from from_file(os.path.expanduser(f"~/.ssh/{name}"))


def _authenticate(transport: paramiko.Transport, target: SshTarget) -> None:
    agent: paramiko.Agent | None = None
    if os.environ.get("SSH_AUTH_SOCK"):
        try:
            agent = paramiko.Agent()
        except paramiko.SSHException:
            agent = None
    tried: list[str] = []
    try:
        for source, key in _candidate_keys(target, agent):
            tried.append(f"{source} ({key.get_name()})")
            try:
                transport.auth_publickey(target.user, key)
            except paramiko.BadAuthenticationType as exc:
                allowed = ", ".join(exc.allowed_types) or "none"
                raise AuthFailed(
                    f"{target.user}@{target.hostname}: the server does not accept public "
                    f"keys (it allows: {clean(allowed)})"
                ) from None
            except paramiko.AuthenticationException:
                continue
            except (paramiko.SSHException, EOFError, OSError) as exc:
                if not transport.is_active():
                    raise AuthFailed(
                        f"{target.user}@{target.hostname}: the server closed the connection "
                        f"during authentication ({clean(str(exc) or type(exc).__name__)})"
                    ) from None
                continue
            if transport.is_authenticated():
                return
    finally:
        if agent is not None:
            agent.close()
    offered = "; ".join(tried) if tried else "no keys found (agent, IdentityFile, ~/.ssh/id_*)"
    raise AuthFailed(f"{target.user}@{target.hostname}: authentication failed; tried {offered}")


# ------------------------------------------------------------------------ connection


class SshConnection:
    """One authenticated SSH transport to one host, shared by every user of that host.

    Thread-safe: paramiko multiplexes channels over the transport, so the Docker
    client, command runs and tunnels can open channels from any thread at once.
    """

    def __init__(self, target: SshTarget, known_hosts: str | None = None,
                 connect_timeout: float = 10.0, keepalive: float = 5.0) -> None:
        self.target = target
        self.known_hosts = known_hosts
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self._transport: paramiko.Transport | None = None
        self._jumps: list[paramiko.Transport] = []
        """The ProxyJump hosts' transports the target's rides on, first hop first."""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.lost_reason = ""
        """Why the watchdog gave up on the link, if it did."""

    @property
    def label(self) -> str:
        return self.target.label

    def known_hosts_files(self, hop: SshTarget | None = None) -> list[str]:
        """~/.ssh/known_hosts, then ssh_config's files (of ``hop``, default the
        target), then the explicit override."""
        files = [os.path.expanduser("~/.ssh/known_hosts"),
                 *(hop or self.target).known_hosts_files]
        if self.known_hosts:
            files.append(os.path.expanduser(self.known_hosts))
        return files

    def connect(self) -> None:
        """Open, verify the host key, authenticate, start the keepalive watchdog."""
        target = self.target
        self.close()
        *jumps, transport = open_route(target, self.known_hosts_files, self.connect_timeout)
        with self._lock:
            self._transport = transport
            self._jumps = jumps
            self._stop = threading.Event()
            self.lost_reason = ""
        if self.keepalive > 0:
            threading.Thread(target=self._watch, args=(transport, self._stop),
                             name=f"ssh-keepalive {target.label}", daemon=True).start()

    def _watch(self, transport: paramiko.Transport, stop: threading.Event) -> None:
        """Keepalives that need an answer: no answer in two intervals closes the link.

        paramiko's own keepalive asks for no reply, so it cannot tell a dead peer
        from a quiet one; TCP alone would take many minutes to give up.
        """
        while not stop.wait(self.keepalive):
            if not transport.is_active():
                return
            answered = threading.Event()
            threading.Thread(target=_ping, args=(transport, answered),
                             name="ssh-keepalive-ping", daemon=True).start()
            if not answered.wait(2 * self.keepalive) and not stop.is_set():
                self.lost_reason = f"no answer to keepalives for {2 * self.keepalive:g} s"
                transport.close()
                return

    def is_alive(self) -> bool:
        transport = self._transport
        return transport is not None and transport.is_active()

    @property
    def transport(self) -> paramiko.Transport:
        """The live transport; HostUnreachable when the link is down or never opened."""
        transport = self._transport
        if transport is None or not transport.is_active():
            reason = self.lost_reason or ("not connected" if transport is None
                                          else "connection lost")
            raise HostUnreachable(f"{self.label}: SSH {reason}")
        return transport

    def exec_channel(self, command: str, timeout: float | None = None) -> paramiko.Channel:
        """A session channel running ``command`` (already shell-quoted) on the host."""
        transport = self.transport
        try:
            channel = transport.open_session(timeout=timeout or self.connect_timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if not transport.is_active():
                raise HostUnreachable(f"{self.label}: SSH connection lost") from None
            raise HostError(
                f"{self.label}: the host refused a new SSH session "
                f"({clean(str(exc) or type(exc).__name__)})",
                hint="sshd's MaxSessions may be too low for opsui (it opens one per stream).",
            ) from None
        try:
            channel.exec_command(command)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            channel.close()
            raise HostError(f"{self.label}: could not run {clean(command, 120)}: "
                            f"{clean(str(exc) or type(exc).__name__)}") from None
        return channel

    def run(self, argv: list[str], timeout: float = 30.0,
            stdin: bytes | None = None) -> CommandResult:
        """Run argv on the host (one exec channel) and collect its output and exit code.

        stdout and stderr are drained together (paramiko buffers each stream), and
        stdin is fed from a helper thread, so a chatty command can never fill one
        window while we wait on the other. Like the local runner, a command that
        outlives ``timeout`` gives exit 124 with a note on stderr; its channel is
        closed (the remote process is not signalled: SSH has no portable way to).
        HostUnreachable when the link drops meanwhile.
        """
        command = shlex.join(argv)
        deadline = time.monotonic() + timeout
        channel = self.exec_channel(command, timeout)
        try:
            _feed_stdin(channel, stdin)
            out, err, finished = _drain(channel, deadline)
            if not finished:
                note = f"\n{argv[0] if argv else command}: timed out after {timeout:g} s\n"
                return CommandResult(TIMEOUT_EXIT_CODE, bytes(out), bytes(err) + note.encode())
            if not channel.exit_status_ready() and not self.is_alive():
                raise HostUnreachable(
                    f"{self.label}: SSH connection lost while running {clean(command, 120)}")
            status = channel.recv_exit_status() if channel.exit_status_ready() else -1
            return CommandResult(exit_code=status, stdout=bytes(out), stderr=bytes(err))
        finally:
            channel.close()

    def open_tunnel(self, host: str, port: int,
                    timeout: float | None = None) -> paramiko.Channel:
        """A direct-tcpip channel to ``host:port`` as the remote host sees it.

        Raises HostUnreachable when the SSH link is down, ConnectionRefusedError (an
        OSError) when the host could not open the port.
        """
        transport = self.transport
        try:
            return transport.open_channel("direct-tcpip", (host, port), ("127.0.0.1", 0),
                                          timeout=timeout or self.connect_timeout)
        except paramiko.ChannelException as exc:
            raise ConnectionRefusedError(
                f"{host}:{port} refused or unreachable from {self.target.hostname} "
                f"(sshd: {clean(exc.text or str(exc.code))})"
            ) from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if not transport.is_active():
                raise HostUnreachable(f"{self.label}: SSH connection lost") from None
            raise ConnectionError(f"{self.label}: tunnel to {host}:{port} failed: "
                                  f"{clean(str(exc) or type(exc).__name__)}") from None

    def close(self) -> None:
        with self._lock:
            transport, self._transport = self._transport, None
            jumps, self._jumps = self._jumps, []
            self._stop.set()
        for link in (transport, *reversed(jumps)):
            if link is not None:
                link.close()


def _ping(transport: paramiko.Transport, answered: threading.Event) -> None:
    """One keepalive that wants a reply (OpenSSH answers it with a failure: fine)."""
    with contextlib.suppress(Exception):
        transport.global_request("keepalive@openssh.com", wait=True)
    answered.set()


def _feed_stdin(channel: paramiko.Channel, data: bytes | None) -> None:
    if not data:
        channel.shutdown_write()
        return

    def feed() -> None:
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            channel.sendall(data)
            channel.shutdown_write()

    threading.Thread(target=feed, name="ssh-stdin", daemon=True).start()


class _Wakeup(threading.Event):
    """The event paramiko's BufferedPipe.set_event takes, shared by stdout and stderr.

    A pipe sets it when data or EOF arrives and clears it when a read empties that pipe;
    with two pipes on one event that clear could swallow the other pipe's wake-up, so
    only the reader clears it (:meth:`reset`), *before* draining both.
    """

    def clear(self) -> None:
        pass

    def reset(self) -> None:
        super().clear()


_DRAIN_RECHECK = 0.25
"""Longest sleep between looks at a command's channel when nothing wakes the reader
(the exit status alone does not; it arrives with EOF or close, which do)."""


def _drain(channel: paramiko.Channel, deadline: float) -> tuple[bytearray, bytearray, bool]:
    """Both output streams until the command is done (True) or the deadline (False).

    Done means the channel closed, or EOF and the exit status both arrived; either way
    all data sent before them is already buffered, because SSH keeps channel order.
    The reader sleeps until data, EOF or close arrives, instead of polling: a command
    that runs for seconds (``docker stats``) costs a handful of wake-ups.
    """
    out, err = bytearray(), bytearray()
    wake = _Wakeup()
    channel.in_buffer.set_event(wake)
    channel.in_stderr_buffer.set_event(wake)
    while True:
        wake.reset()
        while channel.recv_ready():
            out += channel.recv(65536)
        while channel.recv_stderr_ready():
            err += channel.recv_stderr(65536)
        finished = channel.closed or (channel.eof_received and channel.exit_status_ready())
        if finished and not channel.recv_ready() and not channel.recv_stderr_ready():
            return out, err, True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return out, err, False
        if channel.eof_received:
            channel.status_event.wait(min(remaining, _DRAIN_RECHECK))
        else:
            wake.wait(min(remaining, _DRAIN_RECHECK))
