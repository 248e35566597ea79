"""Confirmation policies: how much an operator must do before an action runs."""

from __future__ import annotations

import enum
from types import MappingProxyType


class ConfirmPolicy(enum.Enum):
    """``none`` runs at once; ``yes`` asks yes/no; ``type`` asks for the target's name."""

    NONE = "none"
    YES = "yes"
    TYPE = "type"


class Action(enum.Enum):
    """Every action that changes a host. Read-only mode refuses all of them."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    MIGRATE = "migrate"
    BACKUP = "backup"
    RESTORE = "restore"
    LOCK = "lock"
    UNLOCK = "unlock"
    FRONT = "front"
    """Moving an app behind (or back from) the front proxy: `opsui front APP [--undo]`."""
    VERIFY = "verify"
    """Re-checking a backup: it asks nothing (no policy), but it runs the engine's check
    on the host and journals the verdict there, so read-only mode refuses it too."""


DEFAULT_CONFIRMATIONS = MappingProxyType(
    {
        Action.START.value: ConfirmPolicy.YES,
        Action.STOP.value: ConfirmPolicy.YES,
        Action.RESTART.value: ConfirmPolicy.YES,
        Action.DEPLOY.value: ConfirmPolicy.YES,
        Action.ROLLBACK.value: ConfirmPolicy.YES,
        Action.MIGRATE.value: ConfirmPolicy.YES,
        Action.BACKUP.value: ConfirmPolicy.YES,
        Action.RESTORE.value: ConfirmPolicy.TYPE,
        Action.LOCK.value: ConfirmPolicy.YES,
        Action.UNLOCK.value: ConfirmPolicy.YES,
        Action.FRONT.value: ConfirmPolicy.YES,
    }
)
