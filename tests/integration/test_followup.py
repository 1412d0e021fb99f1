"""Follow-up messages on a conversation, on the real Temporal dev server: a run that
still goes takes the follow-up's steps (a Temporal Update); a finished one is
followed by a new run that refers to it and plans with its entities."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer
from orchestrator.graph import queries as q
from orchestrator.graph.cypher_store import CypherStore
from orchestrator.graph.store import Relation
from orchestrator.models import EntityRef, Followup, RunResult, RunStatus, Step, StepStatus
from tests.integration.stack import S1, result_of, running_stack, state_of, wait_until
from worker.client import run_handle
from workflows.orchestration import OrchestrationWorkflow

SLOW_DEPLOY = {"deployment.create": Fault(delay_ms=3000)}
CACHE = "also add a cache service"


def _ref(kind: str, name: str) -> EntityRef:
    return EntityRef(kind=kind, name=name)


async def _chat(http: httpx.AsyncClient, message: str, **options: object) -> httpx.Response:
    return await http.post("/v3/ai/chat", json={"message": message, **options})


async def _started(http: httpx.AsyncClient, message: str) -> str:
    reply = await _chat(http, message)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["conversation_id"] == body["workflow_id"]
    workflow_id: str = body["workflow_id"]
    return workflow_id


async def test_followup_extends_a_running_run(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=SLOW_DEPLOY) as s:
        workflow_id = await _started(s.http, S1)
        reply = await _chat(s.http, CACHE, conversation_id=workflow_id)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["workflow_id"] == body["conversation_id"] == workflow_id
        added = [Step.model_validate(a) for a in body["added_steps"]]
        assert [(a.id, a.capability) for a in added] == [("create-service-cache", "service.create")]
        # The conversation's application, made by the run's own step: taken from
        # that step's output, after it.
        assert added[0].depends_on == ["create-application-ecommerce"]
        assert added[0].parameters == {
            "application": "${steps.create-application-ecommerce.output.application}",
            "name": "cache",
        }
        # A policy for the deployment the run is still making: after that step.
        reply = await _chat(s.http, "also add an audit policy", conversation_id=workflow_id,
                            wait=True)
        assert reply.status_code == 200, reply.text
        audit = Step.model_validate(reply.json()["added_steps"][0])
        assert audit.depends_on == ["deploy-deployment-ecommerce-production"]
        result = RunResult.model_validate(reply.json()["result"])
        assert result.status == RunStatus.COMPLETED
        assert result.plan is not None and len(result.plan.steps) == 8
        assert result.steps[audit.id].parameters == {
            "deployment": "ecommerce-production", "policy": "audit"
        }
        cache = result.steps["create-service-cache"]
        app = result.steps["create-application-ecommerce"]
        assert cache.status == StepStatus.COMPLETED
        assert cache.parameters == {"application": "ecommerce", "name": "cache"}
        assert app.finished_at and cache.started_at and app.finished_at <= cache.started_at
        assert [e.message for e in result.extensions] == [CACHE, "also add an audit policy"]
        assert Relation(source=_ref("application", "ecommerce"), type="owns",
                        target=_ref("service", "cache")) in await s.runtime.store.relations(
            _ref("service", "cache"))
        graph = await s.runtime.store.run_graph(workflow_id)
        assert graph.steps["create-service-cache"]["status"] == "completed"


async def test_a_followup_deploy_waits_for_the_service_the_run_still_makes(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    faults = {"service.create": Fault(delay_ms=1500)}
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=faults) as s:
        workflow_id = await _started(s.http, "create application ext1 with slow service")
        reply = await _chat(s.http, "also deploy it to staging", conversation_id=workflow_id,
                            wait=True)
        assert reply.status_code == 200, reply.text
        deploy = Step.model_validate(reply.json()["added_steps"][-1])
        assert deploy.id == "deploy-deployment-ext1-staging"
        assert "create-service-slow" in deploy.depends_on
        result = RunResult.model_validate(reply.json()["result"])
        assert result.status == RunStatus.COMPLETED
        service, deployed = result.steps["create-service-slow"], result.steps[deploy.id]
        assert service.finished_at and deployed.started_at
        assert service.finished_at <= deployed.started_at
        # The deployment knows the service it deploys.
        assert deployed.output is not None and deployed.output["services"] == ["slow"]


async def test_failure_after_a_followup_rolls_back_its_steps(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    faults = {"deployment.create": Fault(delay_ms=2000, fail_attempts=99, non_retryable=True)}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults) as s:
        workflow_id = await _started(s.http, S1)
        reply = await _chat(s.http, CACHE, conversation_id=workflow_id, wait=True)
        assert reply.status_code == 200, reply.text
        result = RunResult.model_validate(reply.json()["result"])
        assert result.status == RunStatus.ROLLED_BACK
        assert result.steps["create-service-cache"].status == StepStatus.COMPENSATED
        assert result.compensations["create-service-cache"].status == StepStatus.COMPLETED
        # The service went before the application that owns it.
        undo_cache = result.compensations["create-service-cache"]
        undo_app = result.compensations["create-application-ecommerce"]
        assert undo_cache.finished_at and undo_app.started_at
        assert undo_cache.finished_at <= undo_app.started_at
        assert await s.runtime.store.get_entity(_ref("service", "cache")) is None


async def test_followup_on_a_finished_run_starts_a_run_that_follows_it(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        first = await _chat(s.http, "create application shop with payment service", wait=True)
        assert first.status_code == 200, first.text
        earlier = first.json()["workflow_id"]
        reply = await _chat(s.http, CACHE, conversation_id=earlier, wait=True)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["workflow_id"] != earlier
        assert body["conversation_id"] == body["workflow_id"]
        assert body["follows"] == earlier and body["added_steps"] == []
        result = RunResult.model_validate(body["result"])
        assert result.status == RunStatus.COMPLETED
        # The application exists: the new run only adds the service, for it.
        assert result.plan is not None
        assert [(st.capability, st.parameters) for st in result.plan.steps] == [
            ("service.create", {"application": "shop", "name": "cache"})
        ]
        state = await state_of(s.http, body["workflow_id"])
        assert state.follows == earlier
        assert _ref("application", "shop") in state.context
        assert Relation(source=_ref("application", "shop"), type="owns",
                        target=_ref("service", "cache")) in await s.runtime.store.relations(
            _ref("service", "cache"))
        assert isinstance(s.runtime.store, CypherStore)
        rows = await s.runtime.store._read(q.FOLLOWED_RUNS, id=body["workflow_id"])
        assert [r[0] for r in rows] == [earlier]
        view = (await s.http.get(f"/v1/graph/workflows/{body['workflow_id']}")).json()
        assert {"source": f"workflow:{body['workflow_id']}", "type": "FOLLOWS",
                "target": f"workflow:{earlier}"} in view["edges"]
        assert f"workflow:{earlier}" in {n["id"] for n in view["nodes"]}


async def test_followup_on_an_unknown_conversation_is_404(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        reply = await _chat(s.http, CACHE, conversation_id="run-nobody-started-this")
        assert reply.status_code == 404
        assert "run-nobody-started-this" in reply.json()["detail"]


async def test_ambiguous_or_unplannable_followup_is_refused_and_changes_nothing(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=SLOW_DEPLOY) as s:
        workflow_id = await _started(
            s.http, "create application shop and application blog, deploy shop to production"
        )
        before = await state_of(s.http, workflow_id)
        reply = await _chat(s.http, CACHE, conversation_id=workflow_id)
        assert reply.status_code == 422, reply.text
        detail = reply.json()
        assert "which application? blog or shop" in detail["detail"]
        assert detail["problem"]["kind"] == "cannot_plan"
        reply = await _chat(s.http, "also frobnicate the flux", conversation_id=workflow_id)
        assert reply.status_code == 422, reply.text
        assert reply.json()["problem"]["not_understood"] == ["frobnicate", "flux"]
        # Straight to Temporal, past the API's checks: the run's validator refuses.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await run_handle(s.client, workflow_id).execute_update(
                OrchestrationWorkflow.extend, Followup(message="  ")
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.message == "the follow-up message is empty"
        result = await result_of(s.client, workflow_id)
        assert result.status == RunStatus.COMPLETED
        assert before.plan is not None and result.plan == before.plan
        assert sorted(result.steps) == sorted(before.steps) and result.extensions == []


async def test_followup_over_the_step_budget_is_refused(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=SLOW_DEPLOY, max_steps=7) as s:
        workflow_id = await _started(s.http, S1)
        reply = await _chat(s.http, "also add cache and search services",
                            conversation_id=workflow_id)
        assert reply.status_code == 422, reply.text
        detail = reply.json()
        assert "the plan has 8 steps; the budget allows 7" in detail["detail"]
        assert detail["problem"]["kind"] == "invalid_plan"
        # The plan refused comes with it, the follow-up's steps in it: what to cut.
        refused = {st["id"]: st for st in detail["plan"]["steps"]}
        assert len(refused) == 8, refused
        assert refused["create-service-search"]["capability"] == "service.create"
        assert refused["create-service-search"]["agent"] == "service-agent"
        assert refused["create-service-search"]["depends_on"] == ["create-application-ecommerce"]
        # One more step fits the budget.
        reply = await _chat(s.http, CACHE, conversation_id=workflow_id, wait=True)
        assert reply.status_code == 200, reply.text
        result = RunResult.model_validate(reply.json()["result"])
        assert result.status == RunStatus.COMPLETED
        assert result.plan is not None
        assert sorted(result.steps) == sorted(st.id for st in result.plan.steps)
        assert "create-service-search" not in result.steps


async def test_followup_while_rolling_back_is_refused_then_follows_the_ended_run(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    faults = {"deployment.create": Fault(fail_attempts=99, non_retryable=True),
              "service.delete": Fault(delay_ms=2000)}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults) as s:
        workflow_id = await _started(s.http, S1)
        await wait_until(s.http, workflow_id, lambda st: st.status == RunStatus.ROLLING_BACK)
        reply = await _chat(s.http, CACHE, conversation_id=workflow_id)
        assert reply.status_code == 409, reply.text
        assert "is stopping" in reply.json()["detail"]
        assert (await result_of(s.client, workflow_id)).status == RunStatus.ROLLED_BACK
        reply = await _chat(s.http, CACHE, conversation_id=workflow_id, wait=True)
        assert reply.status_code == 200, reply.text
        result = RunResult.model_validate(reply.json()["result"])
        assert result.follows == workflow_id and result.status == RunStatus.COMPLETED
        # The conversation's application was rolled back: the follow-up makes it again.
        assert result.plan is not None
        assert [st.id for st in result.plan.steps] == [
            "create-application-ecommerce", "create-service-cache"
        ]


async def test_a_deployment_yet_to_start_ships_a_service_a_followup_adds(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # The run's service takes a while: its deployment has not started when the
    # follow-up comes.
    slow = {"service.create": Fault(delay_ms=1500)}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=slow) as s:
        workflow_id = await _started(
            s.http, "create application zeta with zsvc service, deploy to staging")
        reply = await _chat(s.http, CACHE, conversation_id=workflow_id, wait=True)
        assert reply.status_code == 200, reply.text
    result = RunResult.model_validate(reply.json()["result"])
    assert result.status == RunStatus.COMPLETED and result.plan is not None
    deploy = next(x for x in result.plan.steps if x.capability == "deployment.create")
    assert "create-service-cache" in deploy.depends_on
    output = result.steps[deploy.id].output
    assert output is not None and output["services"] == ["cache", "zsvc"]
