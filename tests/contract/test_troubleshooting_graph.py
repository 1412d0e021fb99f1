"""What troubleshooting asks of the graph, on every backend: entity attributes
merged in place (a deployment's health), and the reads the troubleshooting
planner and the diagnosis agents make."""

from __future__ import annotations

from typing import Any

from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.agents.dispatch import builtin_agents
from orchestrator.agents.registry import AgentRegistry
from orchestrator.agents.troubleshooting import CHECKS
from orchestrator.graph.store import GraphStore
from orchestrator.models import (
    EntityRef,
    Plan,
    RunRecord,
    RunStatus,
    Step,
    StepRecord,
    StepStatus,
)
from orchestrator.planning.troubleshoot import TroubleshootPlanner
from tests.platform_world import ctx, deployed, failed_redeploy

APP = EntityRef(kind="application", name="shop")
DEP = EntityRef(kind="deployment", name="ecommerce-staging")


async def test_update_entity_attrs_merges_and_removes(graph: GraphStore) -> None:
    await graph.claim_entity(APP, "wf/a", {"tier": "gold", "replicas": 2})
    updated = await graph.update_entity_attrs(APP, {"replicas": 3, "tier": None,
                                                    "labels": ["a"], "nested": {"ok": True}})
    assert updated is not None
    assert updated.attrs == {"replicas": 3, "labels": ["a"], "nested": {"ok": True}}
    again = await graph.get_entity(APP)
    assert again is not None and again.attrs == updated.attrs and again.created_by == "wf/a"
    # A claim after the update does not reset what the update set.
    assert (await graph.claim_entity(APP, "wf/b", {})).attrs == updated.attrs


async def test_update_entity_attrs_of_a_missing_entity_is_none(graph: GraphStore) -> None:
    assert await graph.update_entity_attrs(APP, {"health": "failing"}) is None
    assert await graph.get_entity(APP) is None


async def test_resolve_reference_prefers_what_is_failing(graph: GraphStore) -> None:
    await deployed(graph, "ecommerce", "staging", ("payment",))
    await deployed(graph, "blog", "staging", ("feed",))

    async def names(text: str) -> list[str]:
        return [e.name for e in await graph.resolve_reference(text)]

    # Nothing marked failing: the words narrow nothing.
    assert await names("my application is failing in staging") == ["blog", "ecommerce"]
    await failed_redeploy(graph, "ecommerce", "staging")
    assert await names("my application is failing in staging") == ["ecommerce"]
    assert await names("my services are broken") == ["payment"]
    assert await names("the deployment that is down in staging") == [DEP.name]
    # Without such words, everything deployed there, as before.
    assert await names("my application in staging") == ["blog", "ecommerce"]


async def _failed_run_history(graph: GraphStore, wf: str) -> None:
    """The failed run's final mirror: its environment step undone, its deploy failed."""
    plan = Plan(intent="deploy", request="deploy ecommerce to staging", steps=[
        Step(id="env", capability="environment.ensure", agent="environment-agent"),
        Step(id="deploy", capability="deployment.create", agent="deployment-agent",
             depends_on=["env"]),
    ])
    steps = [
        StepRecord(workflow_id=wf, step_id="env", capability="environment.ensure",
                   agent="environment-agent", status=StepStatus.COMPENSATED, attempt=1),
        StepRecord(workflow_id=wf, step_id="deploy", capability="deployment.create",
                   agent="deployment-agent", status=StepStatus.FAILED, attempt=1,
                   error="injected failure", operates_on=[DEP]),
    ]
    await graph.record_run(RunRecord(workflow_id=wf, request=plan.request,
                                     status=RunStatus.ROLLED_BACK, plan=plan, steps=steps))


async def test_troubleshooting_reads_the_same_on_every_backend(graph: GraphStore) -> None:
    await deployed(graph, "ecommerce", "staging", ("payment",))
    await deployed(graph, "blog", "staging", policies=("monitoring",))
    failed = await failed_redeploy(graph, "ecommerce", "staging")
    await _failed_run_history(graph, failed)
    registry = AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)
    plan = await TroubleshootPlanner(registry, graph).plan(
        "My application is failing in staging, fix it")
    assert plan.intent == "troubleshoot deployment ecommerce-staging"

    agents = builtin_agents(graph)
    inspection = (await agents.run("diagnosis.inspect", {"deployment": DEP.name},
                                   ctx("s3", "inspect"))).output
    assert (inspection["application"], inspection["environment"], inspection["health"]) == (
        "ecommerce", "staging", "failing")
    # This run's own inspect step, mirrored as the step activity does: it operates on
    # the deployment too, but it is not history the diagnoses should quote.
    await graph.record_run(RunRecord(
        workflow_id="s3", request=plan.request, status=RunStatus.RUNNING, plan=plan))
    await graph.record_steps([StepRecord(
        workflow_id="s3", step_id="inspect", capability="diagnosis.inspect",
        agent="diagnosis-agent", status=StepStatus.COMPLETED, attempt=1,
        output=inspection, operates_on=[DEP])])
    found: dict[str, Any] = {}
    for check in CHECKS:
        found[check] = (await agents.run(
            f"diagnosis.{check}", {"deployment": DEP.name, "inspection": inspection},
            ctx("s3", check))).output
    logs = found["deployment_logs"]["evidence"]
    quoted = {h["workflow_id"] for h in logs["history"]}
    assert quoted == {failed}, quoted
    assert logs["run_status"] == "rolled_back"
    assert logs["failed_step_dependencies"] == {"env": "compensated"}
    assert found["environment_resources"]["evidence"]["deployments"] == {
        "blog-staging": "healthy", "ecommerce-staging": "failing"}
    fix = (await agents.run("remediation.fix", {"deployment": DEP.name, "findings": found},
                            ctx("s3", "fix"))).output
    assert fix["summary"] == "apply-policy monitoring; redeploy ecommerce-staging"
    await agents.run("deployment.redeploy", {"application": "ecommerce",
                                             "environment": "staging",
                                             "reason": fix["summary"]}, ctx("s3", "redeploy"))
    healed = await graph.get_entity(DEP)
    assert healed is not None and healed.attrs["health"] == "healthy"
    assert "error" not in healed.attrs
