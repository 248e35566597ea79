"""``opsui lock|unlock APP`` of an app on several hosts: the freeze on every host.

A freeze that holds on two hosts out of three freezes nothing (a rolling release would
be refused, but a one-host deploy to the third would not): taking it is all or
nothing. Each host's freeze is that host's own (its gate, its lock folder, its journal
line), taken in the app's host order; the first host where the app is already locked
stops it, the freezes taken so far are given back, and the error names that host and
who holds it there. Lifting it goes to every host, even past a host that refuses
(lifting what can be lifted is what the operator asked); each host says how it went.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.operations.gate import ActionGate, ActionRequest
from opsui.domain.operations.lock import LockHolder
from opsui.domain.operations.policy import Action
from opsui.domain.sanitize import clean


@dataclass(frozen=True)
class HostUnlock:
    host: str
    was: LockHolder | None
    """Whose lock it was (None: it was not locked there)."""
    error: str = ""
    """Why it is still locked there (empty: unlocked)."""


class MultiHostLock:
    """The freeze of one app on every host of its ``hosts`` list."""

    def __init__(self, name: str, releases: list[AppReleases], gate: ActionGate) -> None:
        self.name = name
        self.releases = releases
        self._gate = gate

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(r.host for r in self.releases)

    def request(self, action: Action, message: str = "") -> ActionRequest:
        """The one question for every host (each host's gate asks it again with the
        same answer, and audits itself in that host's journal)."""
        detail = f"({clean(message, 80)})" if message else ""
        return ActionRequest(action, ", ".join(self.hosts), self.name, self.name,
                             app=self.name, detail=detail)

    def _apps(self, action: Action, message: str = "") -> list[tuple[AppReleases, AppSpec]]:
        """Every host's app, each host's read-only checked before any changes."""
        apps = [(releases, releases.resolve(self.name)) for releases in self.releases]
        for releases, app in apps:
            self._gate.check(releases.lock_request(app, action, message))
        return apps

    def lock(self, message: str, answer: bool | str | None) -> list[tuple[str, LockHolder]]:
        """Freeze on every host, or on none: (host, the freeze) in host order."""
        taken: list[tuple[AppReleases, AppSpec, LockHolder]] = []
        try:
            for releases, app in self._apps(Action.LOCK, message):
                try:
                    holder = releases.lock(app, message, answer)
                except ActionRefused as exc:
                    held = releases.lock_of(app).holder()
                    said = held.describe() if held is not None else str(exc)
                    given = ", ".join(r.host for r, _, _ in taken)
                    raise ActionRefused(
                        f"{self.name} is locked on {releases.host}: {said}",
                        hint=(f"Given back on {given}: " if given else "")
                        + "no host was frozen. Ask its holder, or `opsui unlock "
                          f"{self.name} --host {releases.host}` only if it is stale."
                    ) from exc
                taken.append((releases, app, holder))
        except BaseException as exc:
            for releases, app, holder in reversed(taken):
                with suppress(OpsuiError):  # unreachable now: its freeze shows who
                    lock = releases.lock_of(app)
                    if lock.holder() == holder:
                        lock.release()
                        self._gate.record_consequence(
                            releases.lock_request(app, Action.UNLOCK, message),
                            f"given back: {clean(str(exc), 300) or type(exc).__name__}",
                            releases.journal(app))
            raise
        return [(releases.host, holder) for releases, _, holder in taken]

    def unlock(self, answer: bool | str | None) -> list[HostUnlock]:
        """Lift the lock on every host, each through its own gate; a host that refuses
        (a release of this opsui holds it, or it cannot be reached) says so and the
        others are still unlocked."""
        results = []
        for releases, app in self._apps(Action.UNLOCK):
            try:
                results.append(HostUnlock(releases.host, releases.unlock(app, answer)))
            except OpsuiError as exc:
                results.append(HostUnlock(releases.host, None, str(exc)))
        return results
