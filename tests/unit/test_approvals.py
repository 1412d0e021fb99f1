"""Which approval an answer is for, and why one cannot be taken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.models import ApprovalStatus, Decision
from workflows.approvals import PLAN, ApprovalRefused, Approvals

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _refusal(approvals: Approvals, decision: Decision) -> str:
    with pytest.raises(ApprovalRefused) as refused:
        approvals.target_of(decision, steps=["app"])
    return str(refused.value)


def test_an_answer_goes_to_the_plan_first_then_to_the_one_step_waiting() -> None:
    approvals = Approvals()
    approvals.request(PLAN, NOW)
    assert approvals.target_of(Decision()) == PLAN
    approvals.answer(PLAN, ApprovalStatus.APPROVED, NOW)
    approvals.request("app", NOW)
    assert approvals.target_of(Decision()) == "app"


def test_a_late_answer_learns_what_the_first_one_did() -> None:
    """Approve and reject sent at once: the one that lost is told who won."""
    approvals = Approvals()
    approvals.request(PLAN, NOW)
    approvals.answer(PLAN, ApprovalStatus.REJECTED, NOW + timedelta(seconds=1), by="r")
    assert _refusal(approvals, Decision()) == (
        "no approval is pending (plan was already answered: rejected by r)")
    assert _refusal(approvals, Decision(step_id="plan")) == (
        "plan was already answered: rejected by r")


def test_an_answer_to_nothing_says_what_is_pending() -> None:
    approvals = Approvals()
    assert _refusal(approvals, Decision()) == "no approval is pending"
    approvals.request("app", NOW)
    assert _refusal(approvals, Decision(step_id="db")) == (
        "the run has no step 'db', so it is not waiting for approval; pending: app")
