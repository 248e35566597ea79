"""What a cancel does at the step a deploy is at, in words true for that step.

One sentence for the whole run was untrue half the time (issue 13): during a drain the
new version already serves and the drain is cut short (then, with replicas left, each
switched one goes back through a full gate and another drain); during a stop-first
release's start or gate the old container is already stopped and its port is down.
The TUI's cancel question and the CLI's Ctrl-C messages both say it from here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SUFFIX = re.compile(r"^(?P<base>.*?)(?: \((?P<replica>[^()]*)\))?$")
HANDOVER = ("leave aliases", "reload proxy", "drain", "stop old", "switch")
BEFORE = ("lock", "pull", "backup", "migrate", "create")
UNDONE = "The new version is stopped and never takes over; the version serving now " \
         "keeps serving; the lock is freed."


def split_step(step: str) -> tuple[str, str]:
    """``drain (app_2 back)`` -> (``drain``, ``app_2 back``); no replica -> ``""``."""
    found = _SUFFIX.match(step)
    assert found is not None  # the pattern matches any text
    return found["base"], found["replica"] or ""


def _stop_first(replica: str, planned: Sequence[str], seen: Sequence[str]) -> bool:
    """The replica's old container stops before its new one starts."""
    mine = [split_step(s)[0] for s in planned if split_step(s)[1] == replica]
    if "stop old" in mine and "start" in mine:
        return mine.index("stop old") < mine.index("start")
    mine = [split_step(s)[0] for s in seen if split_step(s)[1] == replica]
    if "stop old" not in mine:
        return False  # start-first stops the old one only after the gate
    return "health gate" not in mine or mine.index("stop old") < mine.index("health gate")


def _replicas_after(replica: str, planned: Sequence[str]) -> bool | None:
    """Whether replicas are released after ``replica`` (None: not known)."""
    if not planned:
        return None
    gates = [split_step(s)[1] for s in planned if split_step(s)[0] == "health gate"]
    if replica not in gates:
        return None
    return gates.index(replica) < len(gates) - 1


def deploy_cancel_effect(step: str | None, planned: Sequence[str] = (),
                         seen: Sequence[str] = ()) -> str:
    """What cancelling a deploy at ``step`` does. ``planned``: the plan's steps;
    ``seen``: the steps reported so far (the current one last)."""
    if not step:
        return UNDONE
    base, replica = split_step(step)
    if replica.endswith(" back"):
        return ("The rollout is already going back after a cancel or a failure: every "
                "switched replica returns to the version before, each through its gate and "
                "a drain; nothing more is cut short. Stopping at once instead (a second "
                "Ctrl-C in the CLI) leaves it half done: then opsui recover APP --rollback.")
    if base in ("retention", "record"):
        return "The new version already serves every replica: the release completes."
    stop_first = _stop_first(replica, planned, seen)
    if stop_first and base in ("stop old", "start", "health gate"):
        return ("The old container is already stopped (its port is down): this step ends, "
                "the new one is stopped and the old one starts again; the lock is freed.")
    if base in HANDOVER and not stop_first:
        more = _replicas_after(replica, planned)
        after = ("then each replica already switched goes back to the old version, "
                 "through a full health gate and another drain; the lock is freed.")
        if more is False:
            after = "the release then completes on the new version."
        elif more is None:
            after = ("with replicas still to release, each one already switched then goes "
                     "back to the old version through a full health gate and another "
                     "drain; else the release completes.")
        return ("The new version already serves: the drain is cut short and the switch "
                f"completes; {after}")
    return UNDONE


def at_step(step: str | None) -> str:
    """The question's line about the step under way: what happens to it."""
    if not step:
        return ""
    if split_step(step)[0] == "drain":
        return f"It is at the step '{step}', which is cut short.\n"
    return f"It is at the step '{step}', which ends first.\n"


def left_by_stop(what: str, app: str, step: str | None) -> str:
    """Said when a second Ctrl-C stops a run at once: what it leaves and the one
    command that puts it in order."""
    base, replica = split_step(step or "")
    name = replica.removesuffix(" back")
    where = f" during '{step}'" if step else ""
    state = "nothing was undone: containers may be half switched"
    if replica.endswith(" back") and base in HANDOVER:
        state = (f"{name}'s new container may be running without the app's network "
                 f"aliases, and its old version (a '{name}.r…-restored' copy) serving "
                 "in its place")
    elif base in HANDOVER and name:
        state = f"{name} is half switched (its old container may have left the aliases)"
    return (f"stopped at once{where}: the {what} of {app} is left interrupted; {state}.\n"
            f"  Put every replica back on the version before: opsui recover {app} "
            "--rollback")


_COMPLETES = ("the release completes", "the release then completes")


def history_line(effect: str) -> str:
    """The cancel question's last line, for the ``effect`` said above it: a cancel that
    lets the release complete is not recorded as cancelled."""
    if any(words in effect for words in _COMPLETES):
        return "The history records how the run ends ('ok' when it completes)."
    return "The history records 'cancelled'."
