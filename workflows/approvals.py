"""Pending approvals of a run: the plan's and each step's, answered one by one.

Pure state: the workflow owns the waiting and the clock; this decides which
approval an answer is for and refuses answers that make no sense.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from orchestrator.models import Approval, ApprovalStatus, Decision

PLAN = "plan"


class ApprovalRefused(ValueError):
    """An answer that cannot be taken; the message says why."""


class Approvals:
    def __init__(self) -> None:
        self.by_target: dict[str, Approval] = {}

    def request(self, target: str, now: datetime) -> None:
        self.by_target[target] = Approval(target=target, requested_at=now)

    def pending(self) -> list[str]:
        return sorted(t for t, a in self.by_target.items() if a.status == ApprovalStatus.PENDING)

    def answered(self, target: str) -> bool:
        return self.by_target[target].status != ApprovalStatus.PENDING

    def approved(self, target: str) -> bool:
        return self.by_target[target].status == ApprovalStatus.APPROVED

    def target_of(self, decision: Decision, steps: Collection[str] | None = None) -> str:
        """The approval this answer is for; raises if there is none to give (`steps`:
        the run's, to tell a step it does not have from one not waiting)."""
        waiting = self.pending()
        if decision.step_id is None:
            if PLAN in waiting:
                return PLAN
            if len(waiting) == 1:
                return waiting[0]
            if not waiting:
                raise ApprovalRefused(self._nothing_pending())
            raise ApprovalRefused(
                f"several approvals are pending ({', '.join(waiting)}): name the step"
            )
        target = decision.step_id
        if target in waiting:
            return target
        known = self.by_target.get(target)
        if known is not None:
            raise ApprovalRefused(answered(known))
        if steps is not None and target != PLAN and target not in steps:
            raise ApprovalRefused(f"the run has no step {target!r}, so it is not waiting for "
                                  f"approval; {self._nothing_pending()}")
        raise ApprovalRefused(f"{target} is not waiting for approval; {self._nothing_pending()}")

    def answer(self, target: str, status: ApprovalStatus, now: datetime,
               by: str = "", reason: str = "") -> None:
        approval = self.by_target[target]
        approval.status, approval.answered_at = status, now
        approval.by, approval.reason = by, reason

    def withdraw_all(self, now: datetime, reason: str) -> None:
        """Close every pending approval: the run stopped while they waited."""
        for target in self.pending():
            self.answer(target, ApprovalStatus.WITHDRAWN, now, reason=reason)

    def _nothing_pending(self) -> str:
        waiting = self.pending()
        if waiting:
            return f"pending: {', '.join(waiting)}"
        # Two answers sent at once: the later one learns what the first one did.
        last = last_answered(self.by_target.values())
        return f"no approval is pending ({answered(last)})" if last else "no approval is pending"


def last_answered(approvals: Iterable[Approval]) -> Approval | None:
    """The approval answered last, if any was."""
    done = [a for a in approvals if a.answered_at is not None]
    return max(done, key=lambda a: a.answered_at or a.requested_at, default=None)


def answered(approval: Approval) -> str:
    """"plan was already answered: rejected by r"."""
    by = f" by {approval.by}" if approval.by else ""
    return f"{approval.target} was already answered: {approval.status.value}{by}"
