"""Cancellation in the middle of a parallel stage, and dry runs that change nothing."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer
from orchestrator.models import ProblemKind, RunResult, RunStatus, StepStatus
from tests.integration.stack import S1, result_of, running_stack, start, wait_until
from worker.replay import replay
from workflows.dag import stages

APP, ENV = "create-application-ecommerce", "ensure-environment-production"
SVC = "create-service-payment"


async def test_cancel_mid_stage_stops_running_steps_and_undoes_completed_ones(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # The application and the environment start together; the environment is
    # slow on purpose, so the cancel lands while it runs.
    faults = {"environment.ensure": Fault(delay_ms=60_000)}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults) as s:
        wf = await start(s.http, S1)
        await wait_until(s.http, wf, lambda r: r.steps[SVC].status == StepStatus.COMPLETED
                         and r.steps[ENV].status == StepStatus.RUNNING)
        reply = await s.http.post(f"/v1/workflows/{wf}/cancel")
        assert reply.status_code == 200, reply.text
        result = await result_of(client, wf)
        left = await s.runtime.store.find_entities()
        again = await s.http.post(f"/v1/workflows/{wf}/cancel")

    assert result.status == RunStatus.CANCELLED
    assert result.problem is not None and result.problem.kind == ProblemKind.CANCELLED
    assert result.steps[ENV].status == StepStatus.CANCELLED
    # The service needed only the application, so it ran (and is undone) too.
    assert result.steps[APP].status == result.steps[SVC].status == StepStatus.COMPENSATED
    # The cancelled environment step is cleaned up after: it may have written.
    assert sorted(result.compensations) == sorted([APP, ENV, SVC])
    assert result.compensations[ENV].output == {"environment": "production",
                                                "deleted": False, "absent": True}
    assert left == []
    # The activity heard the cancellation: the run did not wait out its 60 s.
    assert result.finished_at and result.started_at
    assert (result.finished_at - result.started_at).total_seconds() < 20
    assert again.status_code == 409


async def test_a_run_that_waits_for_running_steps_before_it_rolls_back_says_stopping(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # The application fails for good at once; the environment beside it is slow.
    faults = {"application.create": Fault(fail_attempts=99, non_retryable=True),
              "environment.ensure": Fault(delay_ms=3000)}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults) as s:
        wf = await start(s.http, S1)
        stopping = await wait_until(s.http, wf, lambda r: r.status == RunStatus.STOPPING)
        assert stopping.problem is not None and stopping.problem.kind == ProblemKind.STEP_FAILED
        assert stopping.steps[ENV].status == StepStatus.RUNNING
        result = await result_of(client, wf)
    assert result.status == RunStatus.ROLLED_BACK
    assert result.steps[ENV].status == StepStatus.COMPENSATED


async def test_a_cancel_during_the_rollback_does_not_cut_it_short(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # The deployment fails for good; undoing the service is slow, so the cancel
    # lands while the rollback runs.
    faults = {"deployment.create": Fault(fail_attempts=99, non_retryable=True),
              "service.delete": Fault(delay_ms=2000)}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults) as s:
        wf = await start(s.http, S1)
        await wait_until(s.http, wf, lambda r: r.status == RunStatus.ROLLING_BACK
                         and r.steps[SVC].status == StepStatus.COMPENSATING)
        # The API says so and sends no cancel: there is nothing left to stop.
        reply = await s.http.post(f"/v1/workflows/{wf}/cancel")
        handle = client.get_workflow_handle(wf)
        asked = [e for e in (await handle.fetch_history()).events if e.HasField(
            "workflow_execution_cancel_requested_event_attributes")]
        # A cancel sent to Temporal from elsewhere (the Web UI) changes nothing either.
        await handle.cancel()
        result = await result_of(client, wf)
        await s.runtime.mirror.flush()
        left = await s.runtime.store.find_entities()
        graph = await s.runtime.store.run_graph(wf)
        replayed = await replay(await client.get_workflow_handle(wf).fetch_history())

    assert reply.status_code == 409, reply.text
    assert reply.json()["detail"] == (
        f"run {wf} is already being rolled back (step deploy-deployment-ecommerce-production "
        "failed: injected failure in deployment.create (attempt 1)): the rollback goes on to "
        "its end")
    assert asked == []
    assert replayed.ok, replayed.describe()
    assert result.status == RunStatus.ROLLED_BACK
    assert result.problem is not None and result.problem.kind == ProblemKind.STEP_FAILED
    assert {result.steps[i].status for i in (APP, SVC, ENV)} == {StepStatus.COMPENSATED}
    assert left == []
    assert graph.status == "rolled_back"


async def test_dry_run_plans_predicts_and_changes_nothing(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": S1, "dry_run": True})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        result = await result_of(client, body["workflow_id"])
        viewed = (await s.http.get(f"/v1/workflows/{body['workflow_id']}")).json()
        await s.runtime.mirror.flush()
        entities = await s.runtime.store.find_entities()
        graph = await s.runtime.store.run_graph(body["workflow_id"])

    preview = body["preview"]
    assert preview["stages"] == [
        [APP, ENV], [SVC], ["deploy-deployment-ecommerce-production"],
        ["apply-policy-monitoring", "apply-policy-security"],
    ]
    # No history yet: stated defaults, 4 stages of 1 s, 0.95 a step over 6 steps.
    assert preview["predicted_duration_ms"] == 4000
    assert abs(preview["predicted_success"] - 0.95**6) < 1e-3
    # The plan's own fields say the same, as the run is started and as it is viewed.
    for plan in (body["plan"], viewed["plan"]):
        assert plan["predicted_duration_ms"] == preview["predicted_duration_ms"]
        assert plan["predicted_success"] == preview["predicted_success"]
    assert "defaults" in preview["basis"]
    assert preview["mermaid"].startswith("flowchart TD")
    assert preview["mermaid"].count("-->") == 6  # one per dependency
    assert result.dry_run and result.status == RunStatus.COMPLETED
    assert all(r.status == StepStatus.PENDING for r in result.steps.values())
    assert entities == [] and graph.status is None and graph.steps == {}


async def test_a_dry_run_after_real_runs_predicts_their_orchestration_too(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        ran = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True})
        result = RunResult.model_validate(ran.json()["result"])
        dry = await s.http.post("/v3/ai/chat", json={
            "message": S1.replace("ecommerce", "shop"), "dry_run": True})
    assert result.status == RunStatus.COMPLETED
    assert result.finished_at is not None and result.started_at is not None
    took_ms = (result.finished_at - result.started_at).total_seconds() * 1000
    preview = dry.json()["preview"]
    assert "ms of orchestration a stage, as recent runs" in preview["basis"], preview
    # With its orchestration the prediction is about the run's own time (the one
    # run seen; parallel steps of a kind are predicted at their mean); without, it
    # was the agents' chain alone, a fraction of it.
    assert result.plan is not None
    chain_ms = sum(max(sum(t.duration_ms for t in result.steps[i].tries) for i in stage)
                   for stage in stages(result.plan.steps))
    assert chain_ms < 0.8 * took_ms, (chain_ms, took_ms)
    assert 0.8 * took_ms <= preview["predicted_duration_ms"] <= took_ms + 2, (preview, took_ms)
