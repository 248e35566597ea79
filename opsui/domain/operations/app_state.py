"""An app's journal, lock and release runs across the names it has had.

An app deployed ad hoc and declared later in opsui.toml under another name has its
history in the old name's folder (see :mod:`opsui.domain.history`). Its journal reads
both; its lock is taken under every name, own name first, and given back if any of
them is held. So a deploy under the new name sees a lock held under the old one (by
an opsui that still knows the app by that name, or a freeze), and two opsuis can never
both hold the app, whichever names they use: taking one name's lock is atomic, and
any two of them try at least one name in common. Nobody waits on a lock, so taking
them one after the other cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opsui.domain.history import Journal
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.operations.lock import DeployLock, LockHolder
from opsui.domain.operations.release_run import ReleaseRun
from opsui.domain.ports import HostFiles


class AppLock(DeployLock):
    """The deploy lock of an app under its own name and its former ones."""

    def __init__(self, files: HostFiles, state_dir: str, app: str,
                 former: Sequence[str] = ()) -> None:
        super().__init__(files, state_dir, app)
        self._locks = [DeployLock(files, state_dir, name)
                       for name in dict.fromkeys((app, *former))]
        self._taken: list[DeployLock] = []

    def acquire(self, holder: LockHolder) -> LockHolder | None:
        """All names' locks, or none of them: who holds the first one that is taken."""
        taken: list[DeployLock] = []
        for lock in self._locks:
            held = lock.acquire(holder)
            if held is not None:
                for mine in reversed(taken):
                    mine.release()
                return held
            taken.append(lock)
        self._taken = taken
        return None

    def holder(self) -> LockHolder | None:
        """Who holds the app under any of its names (its own name first)."""
        for lock in self._locks:
            held = lock.holder()
            if held is not None:
                return held
        return None

    def release(self) -> None:
        """Give back what :meth:`acquire` took; with nothing taken (``opsui unlock``, the
        stale lock of an interrupted release taken over), the locks of the holder that
        :meth:`holder` shows, and only those: another name's live lock stays."""
        if self._taken:
            taken, self._taken = self._taken, []
            for lock in reversed(taken):
                lock.release()
            return
        shown = self.holder()
        if shown is None:
            return
        for lock in self._locks:
            if lock.holder() == shown:
                lock.release()


def journal_of(files: HostFiles, app: AppSpec) -> Journal:
    return Journal(files, app.settings.state_dir, app.name, app.former)


def lock_of(files: HostFiles, app: AppSpec) -> AppLock:
    names = journal_of(files, app).former_names()  # with those audit lines took over
    return AppLock(files, app.settings.state_dir, app.name, names)


def run_of(files: HostFiles, app: AppSpec, **options: Any) -> ReleaseRun:
    """A release run of ``app`` that takes the app's lock under all its names."""
    run = ReleaseRun(files, app.settings.state_dir, app.name, **options)
    run.lock = lock_of(files, app)
    return run
