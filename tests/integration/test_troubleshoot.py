"""S3 on the real dev server: earlier runs leave ecommerce deployed to staging with
a failed deployment; "My application is failing in staging, fix it" finds it
through the graph, diagnoses it four ways at once, fixes it and redeploys it."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import httpx
import pytest
from neo4j import AsyncGraphDatabase
from pydantic import SecretStr
from temporalio.client import Client

from orchestrator.agents.faults import Fault
from orchestrator.agents.troubleshooting import CHECKS
from orchestrator.devserver import DevServer
from orchestrator.models import EntityRef, RunResult, RunStatus, StepResult, StepStatus
from tests.integration.stack import running_stack
from tests.neo4j_access import Neo4jAccess

S3 = "My application is failing in staging, fix it"
GIVEN = "Create application ecommerce with payment service, deploy to staging"
DEP = EntityRef(kind="deployment", name="ecommerce-staging")
DIAGNOSES = {f"diagnose-{c.replace('_', '-')}": c for c in CHECKS}
# Slow diagnoses on purpose, so that their overlap in time is measurable.
SLOW = {f"diagnosis.{c}": Fault(delay_ms=300) for c in CHECKS}
BROKEN = {"deployment.create": Fault(fail_attempts=1, non_retryable=True)}


async def _chat(http: httpx.AsyncClient, message: str) -> RunResult:
    reply = await http.post("/v3/ai/chat", json={"message": message, "wait": True})
    assert reply.status_code == 200, reply.text
    return RunResult.model_validate(reply.json()["result"])


async def _given(client: Client, address: str, data: Path, **graph: Any) -> None:
    """Two earlier runs: one deploys ecommerce to staging; a later redeploy fails
    for good (a fault set in settings) and is rolled back."""
    async with running_stack(client, address, data, **graph) as s:
        assert (await _chat(s.http, GIVEN)).status == RunStatus.COMPLETED
    async with running_stack(client, address, data, agent_faults=BROKEN, **graph) as s:
        failed = await _chat(s.http, "deploy ecommerce to staging")
        assert failed.status == RunStatus.ROLLED_BACK


def _overlap(a: StepResult, b: StepResult) -> bool:
    assert a.started_at and a.finished_at and b.started_at and b.finished_at
    return a.started_at < b.finished_at and b.started_at < a.finished_at


def _before(a: StepResult, b: StepResult) -> bool:
    return a.finished_at is not None and b.started_at is not None and (
        a.finished_at <= b.started_at)


async def _empty(access: Neo4jAccess) -> None:
    async with AsyncGraphDatabase.driver(access.uri, auth=(access.user, access.password)
                                         ) as driver:
        await driver.execute_query("MATCH (n) DETACH DELETE n", database_=access.database)


@pytest.fixture(params=["embedded", "neo4j"])
def backend(request: pytest.FixtureRequest) -> Neo4jAccess | None:
    """The Neo4j the stack runs on, or None for the embedded graph."""
    if request.param == "embedded":
        return None
    # Looked up here rather than requested, so embedded-only runs start no Neo4j.
    access: Neo4jAccess = request.getfixturevalue("neo4j")
    return access


async def _graph_settings(access: Neo4jAccess | None) -> dict[str, Any]:
    if access is None:
        return {}
    await _empty(access)  # the session's Neo4j is shared with other tests
    return {"graph_backend": "neo4j", "neo4j_uri": access.uri, "neo4j_user": access.user,
            "neo4j_password": SecretStr(access.password), "neo4j_database": access.database}


async def test_s3_diagnoses_in_parallel_then_fixes_and_redeploys(
    client: Client, temporal_server: DevServer, tmp_path: Path, backend: Neo4jAccess | None
) -> None:
    graph = await _graph_settings(backend)
    await _given(client, temporal_server.address, tmp_path, **graph)
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=SLOW,
                             **graph) as s:
        store = s.runtime.store
        failing = await store.get_entity(DEP)
        assert failing is not None and failing.attrs["health"] == "failing"
        resolved = await s.http.get("/v1/graph/resolve", params={"q": S3})
        preview = await s.http.post("/v3/ai/chat", json={"message": S3, "dry_run": True,
                                                         "wait": True})
        # A question gets the diagnoses' answer, and changes nothing.
        asked = await _chat(s.http, "why is my application failing in staging?")
        still = await store.get_entity(DEP)
        result = await _chat(s.http, S3)
        await s.runtime.mirror.flush()
        healed = await store.get_entity(DEP)
        policies = await store.relations(DEP)
        context = await store.step_context(result.workflow_id, "diagnose-service-health")
        again = await s.http.post("/v3/ai/chat", json={"message": S3, "wait": True})

    # "my application" is what is deployed to staging and failing.
    assert [(e["kind"], e["name"]) for e in resolved.json()["candidates"]] == [
        ("application", "ecommerce")]
    assert preview.status_code == 200, preview.text
    assert preview.json()["preview"]["stages"] == [
        ["inspect"], sorted(DIAGNOSES), ["fix"], ["redeploy"]]
    assert asked.status == RunStatus.COMPLETED and asked.plan is not None, asked.problem
    assert asked.plan.intent == "diagnose deployment ecommerce-staging"
    assert sorted(asked.steps) == sorted(["inspect", *DIAGNOSES])
    assert asked.steps["diagnose-deployment-logs"].output is not None
    assert still is not None and still.attrs["health"] == "failing"
    assert result.status == RunStatus.COMPLETED, result.problem
    assert result.plan is not None and result.plan.intent == (
        "troubleshoot deployment ecommerce-staging")
    plan = {st.id: st for st in result.plan.steps}
    steps = result.steps
    assert all(r.status == StepStatus.COMPLETED for r in steps.values())
    # Four diagnoses after the inspection, at the same time; the fix after all four.
    assert all(plan[d].depends_on == ["inspect"] for d in DIAGNOSES)
    assert plan["fix"].depends_on == sorted(DIAGNOSES)
    assert plan["redeploy"].depends_on == ["fix"]
    for a, b in itertools.combinations(DIAGNOSES, 2):
        assert _overlap(steps[a], steps[b]), (a, b)
    assert all(_before(steps["inspect"], steps[d]) and _before(steps[d], steps["fix"])
               for d in DIAGNOSES)
    assert _before(steps["fix"], steps["redeploy"])

    inspection = steps["inspect"].output
    assert inspection is not None and inspection["health"] == "failing"
    findings = {}
    for step_id, check in DIAGNOSES.items():
        finding = steps[step_id].output
        assert finding is not None and finding["check"] == check
        # The inspection's result came with the step's input...
        assert steps[step_id].parameters == {"deployment": DEP.name, "inspection": inspection}
        assert finding["received"]["inspection"] == {
            k: inspection[k] for k in ("step", "deployment", "application", "environment",
                                       "health")}
        # ...and the entities involved came from the graph.
        assert DEP.key in finding["entities"]
        findings[check] = finding
    assert "environment:staging" in findings["environment_resources"]["entities"]
    assert "service:payment" in findings["service_health"]["entities"]
    assert findings["deployment_logs"]["status"] == "problem"
    assert "injected failure in deployment.create" in findings["deployment_logs"]["issues"][0]
    assert findings["deployment_logs"]["evidence"]["run_status"] == "rolled_back"
    assert findings["policy_compliance"]["issues"] == ["required policy monitoring is missing"]

    # The fix is what the findings proposed, each action traced to its checks.
    fix = steps["fix"].output
    assert fix is not None and steps["fix"].parameters == {
        "deployment": DEP.name, "findings": findings}
    proposed = {(r["action"], r["target"], check) for check, f in findings.items()
                for r in f["remedies"]}
    assert {(a["action"], a["target"], c) for a in fix["actions"] for c in a["from"]} == (
        proposed)
    assert [a["action"] for a in fix["actions"]] == ["apply-policy", "redeploy"]
    redeploy = steps["redeploy"]
    assert redeploy.parameters is not None and redeploy.parameters["reason"] == fix["summary"]
    assert redeploy.output is not None and redeploy.output["previous"]["health"] == "failing"

    # Afterwards the deployment is healthy, with the policy the fix applied...
    assert healed is not None and healed.attrs["health"] == "healthy"
    assert healed.attrs["deployed_by"] == f"{result.workflow_id}/redeploy"
    assert any(r.type == "has_policy" and r.target.name == "monitoring-ecommerce-staging"
               for r in policies)
    # ...the graph holds the diagnosis's context: its dependency and its entities...
    assert context.dependencies["inspect"].status == "completed"
    assert context.dependencies["inspect"].output == inspection
    assert [e.entity.ref for e in context.entities] == [
        EntityRef(kind="application", name="ecommerce"), DEP,
        EntityRef(kind="environment", name="staging")]
    # ...and nothing in staging is failing any more: the same request is refused.
    assert again.status_code == 422, again.text
    assert again.json()["detail"].startswith(
        "cannot plan: nothing deployed to staging is failing (ecommerce-staging is healthy)")


async def test_s3_is_refused_when_nothing_is_deployed_to_staging(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        assert (await _chat(s.http, "create application ecommerce with payment service")
                ).status == RunStatus.COMPLETED
        reply = await s.http.post("/v3/ai/chat", json={"message": S3, "wait": True})
        entities = await s.runtime.store.find_entities()
    assert reply.status_code == 422, reply.text
    problem = reply.json()["problem"]
    assert problem["kind"] == "cannot_plan"
    assert problem["message"] == (
        "cannot plan: there is no environment 'staging' (the graph holds none). "
        "Understood: nothing.")
    assert {(e.kind, e.name) for e in entities} == {("application", "ecommerce"),
                                                    ("service", "payment")}


async def test_s3_rolls_the_fix_back_when_the_redeploy_fails(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    await _given(client, temporal_server.address, tmp_path)
    faults = {"deployment.redeploy": Fault(fail_attempts=1, non_retryable=True)}
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=faults) as s:
        result = await _chat(s.http, S3)
        still = await s.runtime.store.get_entity(DEP)
        policy = await s.runtime.store.get_entity(
            EntityRef(kind="policy", name="monitoring-ecommerce-staging"))

    assert result.status == RunStatus.ROLLED_BACK
    assert result.steps["redeploy"].status == StepStatus.FAILED
    # Only the fix changed anything before the redeploy: only it is undone.
    assert sorted(result.compensations) == ["fix"]
    assert result.compensations["fix"].output == {
        "deployment": DEP.name, "removed": ["policy:monitoring-ecommerce-staging"]}
    assert policy is None
    assert still is not None and still.attrs["health"] == "failing"
    assert still.attrs["failed_capability"] == "deployment.redeploy"
    assert still.attrs["failed_run"] == result.workflow_id


async def test_which_one_is_answered_in_the_conversation_and_fix_it_follows_a_diagnosis(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    await _given(client, temporal_server.address, tmp_path)  # ecommerce-staging failing
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        for app in ("blog", "shop"):
            assert (await _chat(s.http, f"create application {app}, deploy to staging")
                    ).status == RunStatus.COMPLETED
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=BROKEN) as s:
        for app in ("blog", "shop"):
            assert (await _chat(s.http, f"deploy {app} to staging")
                    ).status == RunStatus.ROLLED_BACK
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        asked = await s.http.post("/v3/ai/chat", json={"message": S3})
        assert asked.status_code == 422, asked.text
        refusal = asked.json()
        assert ("several failing deployments match (blog-staging, ecommerce-staging, "
                "shop-staging)") in refusal["detail"]
        # The refusal names the conversation to answer it in.
        assert refusal["conversation_id"] == refusal["workflow_id"]

        # A diagnosis, then "fix it": the conversation says what "it" is, the
        # deployment diagnosed (not everything failing in its environment).
        diagnosed = await _chat(s.http, "why is blog failing in staging?")
        assert diagnosed.plan is not None
        assert diagnosed.plan.intent == "diagnose deployment blog-staging"
        reply = await s.http.post("/v3/ai/chat", json={
            "message": "fix it", "conversation_id": diagnosed.workflow_id, "wait": True})
        assert reply.status_code == 200, reply.text
        result = RunResult.model_validate(reply.json()["result"])
        assert result.plan is not None
        assert result.plan.intent == "troubleshoot deployment blog-staging"
        assert result.status == RunStatus.COMPLETED

        # Not a request on its own: the answer to the one refused, which of the two
        # still failing.
        answer = await s.http.post("/v3/ai/chat", json={
            "message": "the ecommerce one", "conversation_id": refusal["conversation_id"],
            "wait": True})
        assert answer.status_code == 200, answer.text
        fixed = RunResult.model_validate(answer.json()["result"])
        assert fixed.answering == S3 and fixed.follows == refusal["workflow_id"]
        assert fixed.plan is not None
        assert fixed.plan.intent == "troubleshoot deployment ecommerce-staging"
        assert fixed.status == RunStatus.COMPLETED

        # A request of its own sent there is planned, or refused, as itself: not
        # read as an answer (shop-staging is the one still failing).
        own = await s.http.post("/v3/ai/chat", json={
            "message": "ecommerce is down in staging, fix it",
            "conversation_id": refusal["conversation_id"]})
        assert own.status_code == 422, own.text
        assert own.json()["detail"].startswith(
            "cannot plan: nothing deployed to staging is failing (ecommerce-staging is "
            "healthy)"), own.json()["detail"]

        # An answer that names nothing the graph holds is refused, saying so.
        wrong = await s.http.post("/v3/ai/chat", json={
            "message": "the purple one", "conversation_id": refusal["conversation_id"]})
        assert wrong.status_code == 422
        assert f"as an answer to {S3!r}, it names nothing the graph holds" in (
            wrong.json()["detail"])
