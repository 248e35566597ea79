"""Start, stop and restart: the container actions of the dashboard and the CLI."""

from __future__ import annotations

from collections.abc import Callable

from opsui.domain.operations.policy import Action
from opsui.domain.ports import ContainerEngine

CONTAINER_ACTIONS = (Action.START, Action.STOP, Action.RESTART)


def container_operation(engine: ContainerEngine, action: Action) -> Callable[[str], None]:
    """The engine call behind ``action``; the gate decides whether it may run."""
    operations: dict[Action, Callable[[str], None]] = {
        Action.START: engine.start,
        Action.STOP: engine.stop,
        Action.RESTART: engine.restart,
    }
    if action not in operations:
        raise ValueError(f"{action.value} is not a container action")
    return operations[action]
