"""What a rollback (or the recovery of an interrupted release) will do, before it does it.

``R`` plans the rollback in a worker; the confirmation then previews the target: its
version, image and digest, how old it is, what boots (the kept container, or a new
one from the exact image id still on the host: a rollback never pulls), the strategy,
and every environment variable that differs. The run itself is a
:class:`~opsui.ui.screens.deploy.ReleaseRunScreen`, like a deploy's.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from opsui.domain.operations.recovery import FINISH, RecoveryPlan
from opsui.domain.operations.rollback import EnvChange, RollbackPlan
from opsui.domain.operations.swarm_deploy import SwarmRollbackPlan
from opsui.domain.operations.swarm_recovery import SwarmRecoveryPlan
from opsui.domain.releases import Release
from opsui.ui.format import duration
from opsui.ui.palette import Palette
from opsui.ui.screens.deploy import note_rows, preview_rows, strategy_text

UNSET = "(unset)"
ENV_SHOWN = 12
"""Env differences listed in the preview; more are counted."""


def release_label(release: Release | None) -> str:
    if release is None:
        return "none recorded"
    version = release.version or "?"
    return f"{version} (release {release.id}, {release.action} by {release.who})"


def env_lines(changes: tuple[EnvChange, ...], palette: Palette) -> Text:
    """``KEY  now → then`` per variable (values as inspect shows them: secrets masked)."""
    text = Text()
    if not changes:
        text.append("no differences", style=palette.muted)
        return text
    width = min(32, max(len(change.key) for change in changes))
    for index, change in enumerate(changes[:ENV_SHOWN]):
        if index:
            text.append("\n" + " " * 10)
        text.append(f"{change.key:<{width}}  ", style=palette.strong)
        text.append(change.current if change.current is not None else UNSET,
                    style=palette.muted if change.current is None else palette.bad)
        text.append(" → ", style=palette.muted)
        text.append(change.target if change.target is not None else UNSET,
                    style=palette.muted if change.target is None else palette.ok)
    if len(changes) > ENV_SHOWN:
        text.append(f"\n{'':10}… and {len(changes) - ENV_SHOWN} more", style=palette.muted)
    return text


def rollback_preview(plan: RollbackPlan | SwarmRollbackPlan, palette: Palette,
                     now: datetime) -> Text:
    """What the rollback confirmation shows above its question."""
    if isinstance(plan, SwarmRollbackPlan):
        return preview_rows([
            ("host", plan.host),
            ("app", f"{plan.app} (Swarm service {plan.service_name})"),
            ("current", f"{plan.current_image}  (release {plan.current_release or '-'})"),
            ("target", Text(plan.version, style=palette.primary)),
            ("image", plan.target_image),
            ("release", plan.target_release or "not recorded"),
            ("boots", "the service's previous spec (the engine's native rollback)"),
            ("steps", " → ".join(plan.steps)),
        ], palette)
    target = plan.target
    age = plan.age_seconds(now)
    version = Text(target.version or target.id, style=palette.primary)
    if target.known_good:
        version.append("  ✓ known good", style=palette.ok)
    return preview_rows([
        ("host", plan.host),
        ("app", f"{plan.app} (container {plan.current.name})"),
        ("current", plan.current.image + (f"  (release {plan.current_release.id})"
                                          if plan.current_release else "")),
        ("target", version),
        ("release", release_label(target)),
        ("image", target.image or "-"),
        ("digest", target.digest or "not recorded"),
        ("image id", target.image_id or "not recorded"),
        ("age", f"deployed {duration(age)} ago ({target.started_at})" if age is not None
         else target.started_at or "unknown"),
        ("boots", f"{plan.boots} (nothing is pulled)"),
        ("strategy", strategy_text(plan.strategy)),
        ("env", env_lines(plan.env_changes, palette)),
        ("steps", " → ".join(plan.steps)),
        *note_rows(plan),
    ], palette)


def rollback_summary(plan: RollbackPlan | SwarmRollbackPlan) -> str:
    if isinstance(plan, SwarmRollbackPlan):
        return (f"{plan.app} on {plan.host}: service {plan.service_name} back to "
                f"{plan.version} ({plan.target_image})")
    return (f"{plan.app} on {plan.host}: back to {plan.target.version or plan.target.id} "
            f"(release {plan.target.id}), booting {plan.boots}")


def recovery_preview(plan: RecoveryPlan | SwarmRecoveryPlan, palette: Palette) -> Text:
    """What the recovery confirmation shows: the interrupted release and the choice."""
    release = plan.release
    if isinstance(plan, SwarmRecoveryPlan):
        what = (f"finish: wait for the engine's update of service {plan.service_name} and "
                "record its verdict" if plan.choice == FINISH else
                f"roll back: ask the engine for service {plan.service_name}'s previous spec")
    elif plan.choice == FINISH:
        what = (f"finish: gate {plan.new.name if plan.new else 'the new container'} on its "
                f"health, then switch {plan.name} over to it")
    else:
        what = (f"roll back: stop the new container, and make sure "
                f"{plan.old.name if plan.old else 'the old one'} serves as {plan.name}")
    return preview_rows([
        ("host", plan.host),
        ("app", plan.app),
        ("release", release_label(release)),
        ("stopped", f"after '{plan.last_step}'"),
        ("lock", plan.lock.describe() if plan.lock else "none left"),
        ("choice", Text(what, style=palette.primary)),
    ], palette)


def recovery_summary(plan: RecoveryPlan | SwarmRecoveryPlan) -> str:
    verb = "finishing" if plan.choice == FINISH else "rolling back"
    return f"{plan.app} on {plan.host}: {verb} the interrupted release {plan.release.id}"
