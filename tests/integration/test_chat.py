"""S1 and S2 through the HTTP API on the real Temporal dev server."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer
from orchestrator.graph.store import Relation
from orchestrator.models import EntityRef, RunResult, RunStatus, StepResult, StepStatus
from tests.integration.stack import S1, running_stack

SLOW = Fault(delay_ms=300)


def _ref(kind: str, name: str) -> EntityRef:
    return EntityRef(kind=kind, name=name)


def _overlap(a: StepResult, b: StepResult) -> bool:
    assert a.started_at and a.finished_at and b.started_at and b.finished_at
    return a.started_at < b.finished_at and b.started_at < a.finished_at


async def test_chat_runs_s1_end_to_end(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # Slow branches on purpose, so that overlap in time is measurable.
    faults = {"service.create": SLOW, "environment.ensure": SLOW, "policy.apply": SLOW}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        run_path = f"/workflows/{body['workflow_id']}/{body['run_id']}/history"
        assert body["web_ui_url"].endswith(run_path)
        result = RunResult.model_validate(body["result"])
        assert result.status == RunStatus.COMPLETED
        assert result.plan is not None
        planned = result.plan.steps
        plan = {step.capability: step for step in planned}
        assert len(plan) == 5 and len(result.steps) == 6
        app, svc = plan["application.create"], plan["service.create"]
        env, deploy = plan["environment.ensure"], plan["deployment.create"]
        assert svc.depends_on == [app.id]
        assert env.depends_on == []
        assert sorted(deploy.depends_on) == sorted([app.id, svc.id, env.id])
        policies = [p for p in planned if p.capability == "policy.apply"]
        assert [p.depends_on for p in policies] == [[deploy.id], [deploy.id]]

        steps = result.steps
        for step in planned:
            assert steps[step.id].status == StepStatus.COMPLETED
            # The plan names what a step touches as its agent does (a policy is
            # its deployment's): a follow-up planned from the plan finds them.
            touched = {e.key for e in steps[step.id].operates_on}
            assert {e.key for e in step.operates_on} <= touched, step.id
            for dep in step.depends_on:
                finished, started = steps[dep].finished_at, steps[step.id].started_at
                assert finished and started and finished <= started
        assert _overlap(steps[env.id], steps[svc.id])
        assert _overlap(steps[policies[0].id], steps[policies[1].id])
        # Outputs flowed: the policy steps got the deployment's name from its output.
        assert steps[policies[0].id].parameters == {
            "deployment": "ecommerce-production", "policy": "monitoring"
        }

        store = s.runtime.store
        relations = await store.relations(_ref("application", "ecommerce"))
        assert Relation(source=_ref("application", "ecommerce"), type="owns",
                        target=_ref("service", "payment")) in relations
        assert Relation(source=_ref("application", "ecommerce"), type="deployed_to",
                        target=_ref("environment", "production")) in relations
        deployment = await store.relations(_ref("deployment", "ecommerce-production"))
        assert sorted(r.target.name for r in deployment if r.type == "has_policy") == [
            "monitoring-ecommerce-production", "security-ecommerce-production"
        ]
        graph = await store.run_graph(body["workflow_id"])
        assert graph.status == "completed"
        assert sorted(graph.steps) == sorted(steps)
        assert all(v["status"] == "completed" for v in graph.steps.values())
        edges = sorted((st.id, d) for st in planned for d in st.depends_on)
        assert graph.depends_on == edges
        assert len(graph.executed_by) == 6


async def test_chat_runs_s2_application_and_service(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        reply = await s.http.post(
            "/v3/ai/chat", json={"message": "create application shop with payment service",
                                 "wait": True},
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"]["status"] == "completed"
        store = s.runtime.store
        assert await store.get_entity(_ref("application", "shop")) is not None
        assert await store.get_entity(_ref("service", "payment")) is not None
        assert Relation(source=_ref("application", "shop"), type="owns",
                        target=_ref("service", "payment")) in await store.relations(
            _ref("service", "payment"))


async def test_get_workflow_reports_plan_and_steps(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        started = await s.http.post("/v3/ai/chat", json={"message": "create app blog"})
        assert started.status_code == 200, started.text
        workflow_id = started.json()["workflow_id"]
        assert started.json()["plan"]["steps"][0]["capability"] == "application.create"
        await s.client.get_workflow_handle(workflow_id).result()
        reply = await s.http.get(f"/v1/workflows/{workflow_id}")
        assert reply.status_code == 200
        state = RunResult.model_validate(reply.json())
        assert state.status == RunStatus.COMPLETED
        step = state.steps["create-application-blog"]
        assert step.attempts == 1 and step.output and step.output["application"] == "blog"
        assert step.started_at and step.finished_at
        missing = await s.http.get("/v1/workflows/run-does-not-exist")
        assert missing.status_code == 404
        assert "run-does-not-exist" in missing.json()["detail"]


async def test_idempotency_key_returns_the_same_run(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        headers = {"Idempotency-Key": f"key-{tmp_path.name}"}
        body = {"message": "create application shop", "wait": True}
        first = await s.http.post("/v3/ai/chat", json=body, headers=headers)
        second = await s.http.post("/v3/ai/chat", json=body, headers=headers)
        assert first.status_code == second.status_code == 200, second.text
        assert first.json()["workflow_id"] == second.json()["workflow_id"]
        assert first.json()["run_id"] == second.json()["run_id"]
        app = await s.runtime.store.get_entity(_ref("application", "shop"))
        assert app is not None and app.created_by.startswith(first.json()["workflow_id"])
        # The same key with another request is refused, and starts nothing.
        other = await s.http.post(
            "/v3/ai/chat", json={**body, "message": "create application blog"}, headers=headers
        )
        assert other.status_code == 409, other.text
        assert "was used for another request ('create application shop')" in other.text
        assert await s.runtime.store.get_entity(_ref("application", "blog")) is None
        # So is the same message with other options: a dry run is not the run.
        for options, says in (({"dry_run": True}, "dry_run=False"),
                              ({"require_approval": True}, "require_approval=False")):
            other = await s.http.post("/v3/ai/chat", json={**body, **options}, headers=headers)
            assert other.status_code == 409, (options, other.text)
            assert f"(the same message with {says})" in other.text, other.text
        # A key names a request within its tenant: another tenant's same key starts
        # a run of its own, and is told nothing of the first tenant's request.
        acme = {"message": "create application blog", "wait": True, "tenant": "acme"}
        theirs = await s.http.post("/v3/ai/chat", json=acme, headers=headers)
        again = await s.http.post("/v3/ai/chat", json=acme, headers=headers)
        assert theirs.status_code == again.status_code == 200, theirs.text
        assert theirs.json()["workflow_id"] == again.json()["workflow_id"] != first.json()[
            "workflow_id"]
        assert theirs.json()["result"]["status"] == "completed", theirs.text
        # Its id answers as a conversation too.
        followed = await s.http.post("/v3/ai/chat", json={
            "message": "deploy it to staging", "tenant": "acme", "dry_run": True,
            "conversation_id": theirs.json()["workflow_id"]})
        assert followed.status_code == 200, followed.text


async def test_retried_step_leaves_one_entity(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # The first attempt writes and then fails, as a crash after a side effect would.
    faults = {"application.create": Fault(fail_attempts=1, after_write=True)}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults) as s:
        reply = await s.http.post(
            "/v3/ai/chat", json={"message": "create application shop", "wait": True}
        )
        result = RunResult.model_validate(reply.json()["result"])
        step = result.steps["create-application-shop"]
        assert result.status == RunStatus.COMPLETED
        assert step.attempts == 2
        assert step.output and step.output["created"] is True
        apps = await s.runtime.store.find_entities("application")
        assert [(a.name, a.created_by) for a in apps] == [
            ("shop", f"{result.workflow_id}/create-application-shop")
        ]


async def test_names_written_with_capitals_are_told_lowercased(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        reply = await s.http.post("/v3/ai/chat", json={
            "message": "Create application Shop with Payment service, deploy Shop to Staging",
            "wait": True})
        plain = await s.http.post("/v3/ai/chat", json={
            "message": "create application blog", "wait": True})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["result"]["status"] == "completed"
    assert body["notes"] == ["'Shop' is named 'shop': names are lowercase",
                             "'Payment' is named 'payment': names are lowercase",
                             "'Staging' is named 'staging': names are lowercase"]
    assert plain.json()["notes"] == []
