"""S5: a required step fails for good and the completed steps are compensated,
dependents first, on the real dev server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer
from orchestrator.models import (
    Agent,
    AgentKind,
    EntityRef,
    ProblemKind,
    RunResult,
    RunStatus,
    StepStatus,
)
from tests.integration.stack import S1, result_of, running_stack, start, wait_until
from worker.replay import replay
from workflows import search_attributes as sa

APP, SVC = "create-application-ecommerce", "create-service-payment"
ENV, DEPLOY = "ensure-environment-production", "deploy-deployment-ecommerce-production"
# Fails on its first attempt with an error no retry can fix.
BROKEN = Fault(fail_attempts=1, non_retryable=True)


async def test_s5_rolls_back_in_reverse_order_and_spares_what_existed(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    faults = {"deployment.create": BROKEN}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults) as s:
        store = s.runtime.store
        # The environment existed before the run: its rollback must leave it alone.
        production = EntityRef(kind="environment", name="production")
        await store.claim_entity(production, "", {})
        reply = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True})
        assert reply.status_code == 200, reply.text
        result = RunResult.model_validate(reply.json()["result"])
        await s.runtime.mirror.flush()
        entities = await store.find_entities()
        graph = await store.run_graph(result.workflow_id)

    assert result.status == RunStatus.ROLLED_BACK
    assert result.problem is not None and result.problem.kind == ProblemKind.STEP_FAILED
    assert DEPLOY in result.problem.message
    steps = result.steps
    assert steps[DEPLOY].status == StepStatus.FAILED and steps[DEPLOY].attempts == 1
    assert {i for i, r in steps.items() if r.status == StepStatus.CANCELLED} == {
        i for i in steps if i.startswith("apply-policy")
    }
    assert steps["apply-policy-security"].error == f"not started: {result.problem.message}"
    assert {steps[i].status for i in (APP, SVC, ENV)} == {StepStatus.COMPENSATED}
    undo = result.compensations
    # The failed step is cleaned up after too; having written nothing, it finds nothing.
    assert sorted(undo) == sorted([APP, SVC, ENV, DEPLOY])
    assert undo[DEPLOY].output == {"deployment": "ecommerce-production", "deleted": False,
                                   "absent": True}
    assert steps[DEPLOY].status == StepStatus.FAILED
    assert all(u.status == StepStatus.COMPLETED for u in undo.values())
    # The service is removed before the application that owns it.
    svc_done, app_start = undo[SVC].finished_at, undo[APP].started_at
    assert svc_done is not None and app_start is not None and svc_done <= app_start
    assert undo[APP].output == {"application": "ecommerce", "deleted": True}
    assert undo[SVC].output == {"service": "payment", "deleted": True}
    # Each undo says which agent ran it: the one that did the work.
    assert {i: u.agent for i, u in undo.items()} == {
        i: result.steps[i].agent for i in (APP, SVC, ENV, DEPLOY)}
    assert undo[SVC].agent == "service-agent"
    assert undo[ENV].output == {"environment": "production", "deleted": False}
    # Nothing the run made is left; what existed before is.
    assert [(e.kind, e.name, e.created_by) for e in entities] == [
        ("environment", "production", "")
    ]
    assert graph.status == "rolled_back"
    # The run's final mirror is the last word: no step's earlier "completed",
    # written behind, lands after it.
    assert {graph.steps[i]["status"] for i in (APP, SVC, ENV)} == {"compensated"}
    assert graph.steps[DEPLOY]["status"] == "failed"
    assert sorted(graph.compensated_by) == sorted(
        (i, f"undo-{i}") for i in (APP, SVC, ENV, DEPLOY)
    )
    assert graph.steps[f"undo-{SVC}"]["status"] == "completed"


async def test_a_failed_compensation_is_reported_and_the_rest_still_run(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    faults = {"deployment.create": BROKEN, "service.delete": BROKEN}
    # Not tried again within a second: the run ends with its rollback incomplete.
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults,
                             rollback_retry_timeout_s=1) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True})
        result = RunResult.model_validate(reply.json()["result"])
        left = {(e.kind, e.name) for e in await s.runtime.store.find_entities()}
        agents = (await s.http.get("/v1/agents")).json()

    assert result.status == RunStatus.ROLLBACK_FAILED
    assert result.problem is not None
    assert result.problem.kind == ProblemKind.COMPENSATION_FAILED
    assert SVC in result.problem.message
    assert any(d.startswith(f"undo {SVC}: injected failure") for d in result.problem.details)
    assert result.steps[SVC].status == StepStatus.COMPENSATION_FAILED
    assert result.compensations[SVC].status == StepStatus.FAILED
    # The others were still undone.
    assert result.steps[APP].status == StepStatus.COMPENSATED
    assert result.steps[ENV].status == StepStatus.COMPENSATED
    # The service left behind keeps the application it belongs to: nothing is orphaned.
    assert result.compensations[APP].output == {
        "application": "ecommerce", "deleted": False,
        "kept_for": f"{result.workflow_id}/{SVC}"}
    assert left == {("service", "payment"), ("application", "ecommerce")}
    # Undos count in their agents' record, the failed one as a failure.
    undos = {(a["id"], c): (v["runs"], v["successes"]) for a in agents
             for c, v in a["capabilities"].items() if c.endswith(".delete")}
    assert undos[("service-agent", "service.delete")] == (1, 0)
    assert undos[("application-agent", "application.delete")] == (1, 1)
    assert undos[("deployment-agent", "deployment.delete")] == (1, 1)


async def test_runs_are_findable_by_search_attributes(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    faults = {"deployment.create": BROKEN}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True,
                                                      "tenant": "acme"})
        workflow_id = reply.json()["workflow_id"]
    query = ("OrchestratorStatus = 'rolled_back' AND OrchestratorTenant = 'acme' "
             f"AND WorkflowId = '{workflow_id}'")
    async with asyncio.timeout(15):  # visibility is eventually consistent
        while True:
            found = [w async for w in client.list_workflows(query)]
            if found:
                break
            await asyncio.sleep(0.2)
    attrs = found[0].typed_search_attributes
    assert attrs.get(sa.INTENT) and attrs.get(sa.STATUS) == "rolled_back"
    # Every step and undo reads well in the Web UI: step id, capability, agent.
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    summaries = sorted(
        _summary(e) for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    )
    assert f"undo {SVC} · service.delete · service-agent" in summaries
    assert f"{DEPLOY} · deployment.create · deployment-agent" in summaries


def _summary(event: HistoryEvent) -> str:
    text: str = pydantic_data_converter.payload_converter.from_payload(
        event.user_metadata.summary, str
    )
    return text


async def test_an_optional_step_that_fails_is_skipped_and_the_run_goes_on(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    faults = {"policy.apply": Fault(fail_attempts=1, non_retryable=True,
                                    when={"policy": "security"})}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults,
                             optional_capabilities=["policy.apply"]) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True})
        result = RunResult.model_validate(reply.json()["result"])
    assert result.status == RunStatus.COMPLETED
    assert result.steps["apply-policy-security"].status == StepStatus.SKIPPED
    assert result.steps["apply-policy-monitoring"].status == StepStatus.COMPLETED
    # The skipped step is cleaned up after (it may have written before failing).
    assert list(result.compensations) == ["apply-policy-security"]
    assert result.compensations["apply-policy-security"].output == {
        "policy": "security-ecommerce-production", "deleted": False, "absent": True}


async def test_a_rollback_leaves_what_another_run_came_to_rely_on(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # Run A makes service uniq1, then its deployment fails (slowly); meanwhile run B
    # creates another application with a service of the same name, and completes.
    slow_failure = Fault(delay_ms=2000, fail_attempts=99, non_retryable=True,
                         when={"application": "newapp"})
    faults = {"deployment.create": slow_failure}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults) as s:
        first = await start(s.http, "create application newapp with uniq1 service, "
                                    "deploy to production")
        await wait_until(s.http, first, lambda r: r.steps["create-service-uniq1"].status
                         == StepStatus.COMPLETED)
        second = await s.http.post("/v3/ai/chat", json={
            "message": "create application other with uniq1 service", "wait": True})
        assert second.status_code == 200, second.text
        later = RunResult.model_validate(second.json()["result"])
        rolled_back = await result_of(client, first)
        store = s.runtime.store
        service = await store.get_entity(EntityRef(kind="service", name="uniq1"))
        relations = await store.relations(EntityRef(kind="service", name="uniq1"))
        newapp = await store.get_entity(EntityRef(kind="application", name="newapp"))

    assert later.status == RunStatus.COMPLETED
    assert rolled_back.status == RunStatus.ROLLED_BACK
    maker = f"{later.workflow_id}/create-service-uniq1"
    assert rolled_back.compensations["create-service-uniq1"].output == {
        "service": "uniq1", "deleted": False, "kept_for": maker}
    # The completed run's service is still there, now its own, owned by its application.
    assert service is not None and service.created_by == maker and service.users == []
    assert [(r.source.name, r.type) for r in relations] == [("other", "owns")]
    assert newapp is None


async def test_a_step_that_failed_after_writing_leaves_nothing_behind(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # The deployment step writes (its deployment, its holds, its edges), then fails:
    # a crash after the side effect, on every attempt.
    faults = {"deployment.create": Fault(fail_attempts=99, after_write=True)}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True})
        assert reply.status_code == 200, reply.text
        result = RunResult.model_validate(reply.json()["result"])
        left = await s.runtime.store.find_entities()
        replayed = await replay(await client.get_workflow_handle(result.workflow_id)
                                .fetch_history())

    assert result.status == RunStatus.ROLLED_BACK
    assert result.steps[DEPLOY].status == StepStatus.FAILED
    # Its undo ran as a clean-up: it removed what the step made before failing.
    assert result.compensations[DEPLOY].output == {
        "deployment": "ecommerce-production", "deleted": True}
    assert left == []
    assert replayed.ok, replayed.describe()


async def test_a_stopping_run_moves_no_step_to_another_agent(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    """The environment fails at once, stopping the run; the application, beside it,
    fails a moment later on its first agent: it is not started again on the second,
    which would only make what the rollback then removes."""
    second = Agent(id="application-agent-b", kind=AgentKind.BUILTIN,
                   capabilities=["application.create", "application.delete"])
    faults = {
        "environment.ensure": BROKEN,
        "application.create": Fault(fail_attempts=1, non_retryable=True, delay_ms=800,
                                    agent="application-agent"),
    }
    async with running_stack(client, temporal_server.address, tmp_path,
                             extra_agents=[second], agent_faults=faults) as s:
        reply = await s.http.post("/v3/ai/chat", json={
            "message": "create application lone, deploy to production", "wait": True})
        made = await s.runtime.store.find_entities()
    result = RunResult.model_validate(reply.json()["result"])
    assert result.status == RunStatus.ROLLED_BACK, result.problem
    app = result.steps["create-application-lone"]
    assert app.status == StepStatus.FAILED
    assert [(t.agent, t.ok) for t in app.tries] == [("application-agent", False)]
    assert made == []
