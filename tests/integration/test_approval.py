"""S7: steps and plans that wait for a person, answered through the API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from temporalio.client import Client

from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer
from orchestrator.models import ApprovalStatus, RunResult, RunStatus, StepStatus
from tests.integration.stack import (
    S1,
    graph_shows,
    result_of,
    running_stack,
    start,
    state_of,
    wait_until,
)

MONITORING = "apply-policy-monitoring"
SECURITY = "apply-policy-security"
SENSITIVE = {"sensitive_capabilities": ["policy.apply"]}


def _waiting(*targets: str) -> Callable[[RunResult], bool]:
    def check(state: RunResult) -> bool:
        return sorted(state.approvals) == sorted(targets) and all(
            a.status == ApprovalStatus.PENDING for a in state.approvals.values()
        )
    return check


async def test_two_pending_approvals_are_answered_separately(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path, **SENSITIVE) as s:
        wf = await start(s.http, S1)
        state = await wait_until(s.http, wf, _waiting(MONITORING, SECURITY))
        assert state.status == RunStatus.AWAITING_APPROVAL
        assert state.steps[MONITORING].status == StepStatus.AWAITING_APPROVAL
        # The graph shows the wait too, though no step activity runs meanwhile.
        waiting = {MONITORING: "awaiting_approval", SECURITY: "awaiting_approval"}
        await graph_shows(s.runtime.store, wf, "awaiting_approval", **waiting)
        # Two are waiting: an answer must say which.
        vague = await s.http.post(f"/v1/workflows/{wf}/approve", json={})
        assert vague.status_code == 409 and "name the step" in vague.json()["detail"]
        unknown = await s.http.post(f"/v1/workflows/{wf}/approve", json={"step_id": "nope"})
        assert unknown.status_code == 409, unknown.text
        assert unknown.json()["detail"].startswith(
            "the run has no step 'nope', so it is not waiting for approval; pending: ")
        # A step of the run that is not waiting is told as such.
        early = await s.http.post(f"/v1/workflows/{wf}/approve",
                                  json={"step_id": "create-application-ecommerce"})
        assert early.status_code == 409, early.text
        assert early.json()["detail"].startswith(
            "create-application-ecommerce is not waiting for approval")

        first = await s.http.post(f"/v1/workflows/{wf}/approve",
                                  json={"step_id": MONITORING, "by": "ana", "reason": "ok"})
        assert first.status_code == 200, first.text
        again = await s.http.post(f"/v1/workflows/{wf}/reject", json={"step_id": MONITORING})
        assert again.status_code == 409 and "already answered" in again.json()["detail"]
        state = await wait_until(
            s.http, wf, lambda r: r.steps[MONITORING].status == StepStatus.COMPLETED
        )
        assert state.steps[SECURITY].status == StepStatus.AWAITING_APPROVAL
        assert state.status == RunStatus.AWAITING_APPROVAL
        await graph_shows(s.runtime.store, wf, "awaiting_approval",
                           **{SECURITY: "awaiting_approval"})
        # With one left, an answer without a step is for that one.
        last = await s.http.post(f"/v1/workflows/{wf}/approve", json={"by": "bo"})
        assert last.status_code == 200, last.text
        result = await result_of(client, wf)

    assert result.status == RunStatus.COMPLETED
    assert result.approvals[MONITORING].by == "ana"
    assert result.approvals[SECURITY].by == "bo"
    assert all(a.status == ApprovalStatus.APPROVED for a in result.approvals.values())


async def test_rejecting_a_step_rolls_back_what_was_done(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path, **SENSITIVE) as s:
        wf = await start(s.http, S1)
        await wait_until(s.http, wf, _waiting(MONITORING, SECURITY))
        reply = await s.http.post(f"/v1/workflows/{wf}/reject",
                                  json={"step_id": SECURITY, "reason": "not in prod"})
        assert reply.status_code == 200, reply.text
        result = await result_of(client, wf)
        left = await s.runtime.store.find_entities()

    assert result.status == RunStatus.ROLLED_BACK
    assert result.problem is not None and "not in prod" in result.problem.message
    assert result.approvals[SECURITY].status == ApprovalStatus.REJECTED
    # The other approval was withdrawn when the run stopped, not left pending.
    assert result.approvals[MONITORING].status == ApprovalStatus.WITHDRAWN
    assert result.steps[SECURITY].status == StepStatus.CANCELLED
    assert len(result.compensations) == 4
    assert left == []


async def test_a_whole_plan_waits_for_approval_and_times_out_as_a_rejection(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # A real timer on the dev server, kept short.
    async with running_stack(
        client, temporal_server.address, tmp_path, approval_timeout_s=1
    ) as s:
        reply = await s.http.post(
            "/v3/ai/chat", json={"message": S1, "require_approval": True}
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "awaiting_approval"
        wf = reply.json()["workflow_id"]
        result = await result_of(client, wf)

    assert result.status == RunStatus.ROLLED_BACK
    assert result.approvals["plan"].status == ApprovalStatus.TIMED_OUT
    assert result.problem is not None
    assert result.problem.message == "plan was not approved in time: no answer within 1 s"
    # Left when the run stopped, and said so: not pending any more.
    assert all(r.status == StepStatus.CANCELLED for r in result.steps.values())
    assert {r.error for r in result.steps.values()} == {
        "not started: plan was not approved in time: no answer within 1 s"}
    assert result.compensations == {}


async def test_an_approved_plan_runs(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        wf = await start(s.http, "create application shop", require_approval=True)
        assert (await state_of(s.http, wf)).status == RunStatus.AWAITING_APPROVAL
        step = "create-application-shop"
        await graph_shows(s.runtime.store, wf, "awaiting_approval", **{step: "pending"})
        reply = await s.http.post(f"/v1/workflows/{wf}/approve")
        assert reply.status_code == 200, reply.text
        result = await result_of(client, wf)
        late = await s.http.post(f"/v1/workflows/{wf}/approve")
        # The wait for a person is not what orchestration costs: dry runs do not
        # predict with it (a run that did not wait does count).
        waited_only = await s.runtime.store.stage_overhead_ms()
        await result_of(client, await start(s.http, "create application blog"))
        not_waiting = await s.runtime.store.stage_overhead_ms()
    assert result.status == RunStatus.COMPLETED
    assert late.status_code == 409
    assert waited_only is None and not_waiting is not None


async def test_the_graph_shows_a_rejected_run_rolling_back_while_it_does(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    slow = {"service.delete": Fault(delay_ms=1500)}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=slow,
                             **SENSITIVE) as s:
        wf = await start(s.http, S1)
        await wait_until(s.http, wf, _waiting(MONITORING, SECURITY))
        await graph_shows(s.runtime.store, wf, "awaiting_approval",
                           **{SECURITY: "awaiting_approval"})
        reply = await s.http.post(f"/v1/workflows/{wf}/reject", json={"step_id": SECURITY})
        assert reply.status_code == 200, reply.text
        # While the slow undo of the service runs, not "awaiting_approval" any more.
        await graph_shows(s.runtime.store, wf, "rolling_back", **{SECURITY: "cancelled"})
        assert (await state_of(s.http, wf)).finished_at is None
        result = await result_of(client, wf)
        await graph_shows(s.runtime.store, wf, "rolled_back")
    assert result.status == RunStatus.ROLLED_BACK
