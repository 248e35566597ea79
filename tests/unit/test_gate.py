"""The action gate: read-only, confirmation policy and audit in one place."""

from __future__ import annotations

import pytest

from opsui.domain.errors import ActionFailed, ActionRefused
from opsui.domain.operations.gate import ActionGate, ActionRequest, MemoryAudit
from opsui.domain.operations.policy import Action, ConfirmPolicy

REQUEST = ActionRequest(Action.RESTART, "prod", "abc123", "shop-web-1")


def _gate(**kwargs: object) -> tuple[ActionGate, MemoryAudit, list[str]]:
    audit = MemoryAudit()
    return ActionGate(audit=audit, **kwargs), audit, []  # type: ignore[arg-type]


def test_yes_policy_runs_only_when_confirmed() -> None:
    gate, audit, calls = _gate()
    with pytest.raises(ActionRefused):
        gate.execute(REQUEST, False, lambda: calls.append("ran"))
    assert calls == []
    gate.execute(REQUEST, True, lambda: calls.append("ran"))
    assert calls == ["ran"]
    assert [e.outcome for e in audit.entries] == ["refused", "ok"]


def test_type_policy_needs_the_exact_name() -> None:
    gate, _, calls = _gate(confirm={"restart": ConfirmPolicy.TYPE})
    confirmation = gate.confirmation_for(REQUEST)
    assert "shop-web-1" in confirmation.question
    for wrong in (True, "shop-web", "SHOP-WEB-1", None):
        with pytest.raises(ActionRefused):
            gate.execute(REQUEST, wrong, lambda: calls.append("ran"))
    gate.execute(REQUEST, "shop-web-1", lambda: calls.append("ran"))
    assert calls == ["ran"]


def test_none_policy_runs_without_answer() -> None:
    gate, _, calls = _gate(confirm={"restart": ConfirmPolicy.NONE})
    gate.execute(REQUEST, None, lambda: calls.append("ran"))
    assert calls == ["ran"]


@pytest.mark.parametrize("kwargs", [{"read_only": True},
                                    {"read_only_hosts": frozenset({"prod"})}])
def test_read_only_refuses_even_when_confirmed(kwargs: dict[str, object]) -> None:
    gate, audit, calls = _gate(**kwargs)
    with pytest.raises(ActionRefused, match="read-only"):
        gate.confirmation_for(REQUEST)
    with pytest.raises(ActionRefused):
        gate.execute(REQUEST, "shop-web-1", lambda: calls.append("ran"))
    assert calls == [] and audit.entries[-1].outcome == "refused"


def test_read_only_host_does_not_block_other_hosts() -> None:
    gate, _, calls = _gate(read_only_hosts=frozenset({"other"}))
    gate.execute(REQUEST, True, lambda: calls.append("ran"))
    assert calls == ["ran"]


def test_failure_is_audited_and_reraised() -> None:
    gate, audit, _ = _gate()

    def boom() -> None:
        raise ActionFailed("engine said no")

    with pytest.raises(ActionFailed):
        gate.execute(REQUEST, True, boom)
    assert audit.entries[-1].outcome == "failed"
    assert "engine said no" in audit.entries[-1].error
