"""A rollback left incomplete (an undo failed for good) waits for a person to have
the undos that failed tried again once the cause is fixed, on the real dev server."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer
from orchestrator.models import ProblemKind, RunStatus, StepStatus
from tests.integration.stack import (
    S1,
    graph_shows,
    result_of,
    running_stack,
    start,
    state_of,
    wait_until,
)
from tests.integration.test_rollback import APP, BROKEN, DEPLOY, ENV, SVC
from worker.replay import replay

# The service's undo fails, as a cloud API that is down would, until the worker
# comes back without the fault.
UNDO_BROKEN = {"deployment.create": BROKEN, "service.delete": BROKEN}


async def test_an_incomplete_rollback_is_finished_once_the_cause_is_fixed(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=UNDO_BROKEN) as s:
        queue = s.settings.task_queue
        wf = await start(s.http, S1)
        waiting = await wait_until(s.http, wf, lambda r: r.status != RunStatus.ROLLING_BACK
                                   and r.status.value.startswith("roll"))
        await graph_shows(s.runtime.store, wf, "rollback_incomplete",
                          **{SVC: "compensation_failed", APP: "compensated"})
        left = {(e.kind, e.name) for e in await s.runtime.store.find_entities()}
        again = await s.http.post(f"/v1/workflows/{wf}/rollback")
        assert again.status_code == 200, again.text
        still = await state_of(s.http, wf)

    assert waiting.status == RunStatus.ROLLBACK_INCOMPLETE and waiting.finished_at is None
    problem = waiting.problem
    assert problem is not None and problem.kind == ProblemKind.COMPENSATION_FAILED
    assert f"undo failed for {SVC}" in problem.message
    assert f"orchestrator rollback {wf}" in problem.message
    assert f"undo {SVC}: injected failure in service.delete (attempt 1)" in problem.details
    assert waiting.steps[SVC].status == StepStatus.COMPENSATION_FAILED
    # Steps never started are told as such while it waits, not as pending.
    assert waiting.steps["apply-policy-security"].status == StepStatus.CANCELLED
    assert left == {("service", "payment"), ("application", "ecommerce")}
    # Tried again with the fault still there: incomplete still, and waiting again.
    assert still.status == RunStatus.ROLLBACK_INCOMPLETE
    assert still.compensations[SVC].status == StepStatus.FAILED

    # The cause fixed: the worker back without the fault, on the same queue and graph.
    async with running_stack(client, temporal_server.address, tmp_path,
                             task_queue=queue) as s:
        reply = await s.http.post(f"/v1/workflows/{wf}/rollback")
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "rolled_back", reply.json()["problem"]
        result = await result_of(client, wf)
        await s.runtime.mirror.flush()
        entities = await s.runtime.store.find_entities()
        graph = await s.runtime.store.run_graph(wf)
        late = await s.http.post(f"/v1/workflows/{wf}/rollback")
        replayed = await replay(await client.get_workflow_handle(wf).fetch_history())
        # As the graph holds them: the cache of this process adds again, until it
        # reads them (within a second), the outcomes the stopped one counted.
        stats = {a.id: a.capabilities for a in await s.runtime.store.list_agents()}

    assert result.status == RunStatus.ROLLED_BACK
    assert result.problem is not None and result.problem.kind == ProblemKind.STEP_FAILED
    assert {result.steps[i].status for i in (APP, SVC, ENV)} == {StepStatus.COMPENSATED}
    assert all(u.status == StepStatus.COMPLETED for u in result.compensations.values())
    # The service's undo let go of the application too (passed to it as it was kept).
    assert result.compensations[SVC].output == {"service": "payment", "deleted": True}
    # The application's undo had left it to the service: tried again after the
    # service's undo worked, it tells what is left of it now, not that it was kept.
    assert result.compensations[APP].output == {
        "application": "ecommerce", "deleted": False, "absent": True}
    # Every try of an undo, kept and counted once in its agent's record: the
    # service's failed twice, then worked; the application's worked twice.
    assert [t.ok for t in result.compensations[SVC].tries] == [False, False, True]
    assert [t.ok for t in result.compensations[APP].tries] == [True, True]
    undos = stats["service-agent"]["service.delete"], stats["application-agent"][
        "application.delete"]
    assert [(u.runs, u.successes) for u in undos] == [(3, 1), (2, 2)]
    assert entities == []
    assert graph.status == "rolled_back"
    assert {graph.steps[i]["status"] for i in (APP, SVC, ENV)} == {"compensated"}
    assert graph.steps[f"undo-{SVC}"]["status"] == "completed"
    assert late.status_code == 409 and "nothing waits for its rollback" in late.text
    assert replayed.ok, replayed.describe()


async def test_an_incomplete_rollback_not_retried_in_time_ends_rollback_failed(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=UNDO_BROKEN, rollback_retry_timeout_s=1) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True})
        wf = reply.json()["workflow_id"]
        refused = await s.http.post(f"/v1/workflows/{wf}/rollback")
        await graph_shows(s.runtime.store, wf, "rollback_failed")

    assert reply.json()["status"] == "rollback_failed"
    details = reply.json()["result"]["problem"]["details"]
    assert "the undos were not tried again: not asked within 1 s" in details
    assert refused.status_code == 409, refused.text


async def test_a_cancel_gives_up_an_incomplete_rollback(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=UNDO_BROKEN) as s:
        wf = await start(s.http, S1)
        await wait_until(s.http, wf, lambda r: r.status == RunStatus.ROLLBACK_INCOMPLETE)
        cancelled = await s.http.post(f"/v1/workflows/{wf}/cancel")
        result = await result_of(client, wf)
        left = {(e.kind, e.name) for e in await s.runtime.store.find_entities()}

    assert cancelled.status_code == 200, cancelled.text
    assert result.status == RunStatus.ROLLBACK_FAILED
    assert result.problem is not None
    assert "the undos were not tried again: cancelled while waiting" in result.problem.details
    assert left == {("service", "payment"), ("application", "ecommerce")}


async def test_a_run_not_waiting_refuses_a_rollback_retry(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults={"deployment.create": Fault(delay_ms=3000)}) as s:
        wf = await start(s.http, S1)
        await wait_until(s.http, wf, lambda r: r.steps[DEPLOY].status == StepStatus.RUNNING)
        refused = await s.http.post(f"/v1/workflows/{wf}/rollback")
        await s.http.post(f"/v1/workflows/{wf}/cancel")
        await result_of(client, wf)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"run {wf} has no incomplete rollback to try again: it is running")
