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


class _JournalFiles:
    """HostFiles in memory, enough for one app's journal."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)

    def append_record(self, path: str, record: bytes) -> None:
        self.files[path] = self.files.get(path, b"") + record

    def create_dir_with(self, path: str, name: str, content: bytes) -> bool:
        return True

    def exists(self, path: str) -> bool:
        return path in self.files

    def remove_dir(self, path: str) -> None:
        pass


def test_a_read_only_refusal_is_audited_here_but_never_written_to_the_host() -> None:
    from opsui.domain.history import Journal

    files = _JournalFiles()
    gate, audit, calls = _gate(read_only=True)
    with pytest.raises(ActionRefused, match="read-only"):
        gate.execute(REQUEST, True, lambda: calls.append("ran"),
                     journal=Journal(files, "/srv/opsui", "shop"))
    assert calls == [] and files.files == {}  # read-only: not even the journal changes
    assert [(e.outcome, e.request.action) for e in audit.entries] == [
        ("refused", Action.RESTART)]


def test_check_refuses_read_only_before_anything_and_audits_it_locally() -> None:
    gate, audit, _ = _gate(read_only_hosts=frozenset({"prod"}))
    request = ActionRequest(Action.VERIFY, "prod", "shop", "shop", app="shop",
                            detail="b20261201")
    with pytest.raises(ActionRefused, match="host 'prod' is read-only"):
        gate.check(request)
    assert audit.entries[-1].outcome == "refused"
    _gate()[0].check(request)  # a writable host: nothing to refuse


def test_an_unanswered_question_is_a_refused_action_line_in_the_journal() -> None:
    from opsui.domain.history import Journal

    files = _JournalFiles()
    journal = Journal(files, "/srv/opsui", "shop")
    gate, audit, _ = _gate()
    request = ActionRequest(Action.RESTORE, "prod", "shop", "shop", app="shop",
                            detail="from b1")
    gate.not_confirmed(request, journal)
    lines = [r for r in journal.read().records if r.get("type") == "action"]
    assert [(r["action"], r["outcome"], r["error"], r["detail"]) for r in lines] == [
        ("restore", "refused", "not confirmed", "from b1")]
    assert audit.entries[-1].outcome == "refused"
