"""Diagnosis and remediation agents over a graph made by the platform agents:
findings from what the graph holds, a fix derived from them, and undos."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.agents import findings
from orchestrator.agents.base import AgentResult
from orchestrator.agents.dispatch import CapabilityRouter, builtin_agents
from orchestrator.agents.faults import Fault
from orchestrator.agents.troubleshooting import CHECKS
from orchestrator.errors import InvalidInput, TransientFailure
from orchestrator.graph import queries as q
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import EntityRef
from tests.platform_world import ctx, deployed, failed_redeploy

DEP = EntityRef(kind="deployment", name="ecommerce-staging")
WF = "troubleshoot"


async def _diagnose(agents: CapabilityRouter) -> dict[str, dict[str, Any]]:
    inspection = (await agents.run("diagnosis.inspect", {"deployment": DEP.name},
                                   ctx(WF, "inspect"))).output
    found = {}
    for check in CHECKS:
        result = await agents.run(f"diagnosis.{check}",
                                  {"deployment": DEP.name, "inspection": inspection},
                                  ctx(WF, f"diagnose-{check}"))
        found[check] = result.output
    return found


async def _world(store: EmbeddedGraphStore) -> str:
    """ecommerce deployed to staging without policies; a checkout service added after
    the deployment; a blog beside it; then ecommerce's redeploy failed."""
    await deployed(store, "ecommerce", "staging", ("payment",))
    await deployed(store, "blog", "staging", policies=("monitoring",))
    await builtin_agents(store).run("service.create",
                                    {"application": "ecommerce", "name": "checkout"},
                                    ctx("later", "svc"))
    return await failed_redeploy(store, "ecommerce", "staging")


async def test_diagnoses_find_what_the_graph_says(store: EmbeddedGraphStore) -> None:
    failed_run = await _world(store)
    found = await _diagnose(builtin_agents(store))

    logs = found["deployment_logs"]
    assert logs["status"] == "problem"
    assert logs["issues"] == [f"deployment.create failed in step {failed_run}/deploy "
                              "(attempt 1): injected failure in deployment.create (attempt 1)"]
    assert logs["evidence"]["last_deployed_by"] == "make-ecommerce-staging/deploy"
    assert [r["action"] for r in logs["remedies"]] == ["redeploy"]
    services = found["service_health"]
    assert services["issues"] == ["service checkout is owned by ecommerce but not deployed"]
    assert services["evidence"]["deployed"] == ["payment"]
    policies = found["policy_compliance"]
    assert policies["issues"] == ["required policy monitoring is missing"]
    assert policies["remedies"][0]["target"] == "monitoring"
    environment = found["environment_resources"]
    assert environment["status"] == "ok"
    assert environment["evidence"]["deployments"] == {
        "blog-staging": "healthy", "ecommerce-staging": "failing"}
    for check, finding in found.items():
        assert finding["check"] == check
        # Each was handed the inspection's result and read its entities from the graph.
        assert finding["received"]["inspection"]["step"] == "inspect"
        assert finding["received"]["inspection"]["health"] == "failing"
        assert DEP.key in finding["entities"]


async def test_fix_follows_the_findings_and_its_undos_restore_the_world(
    store: EmbeddedGraphStore,
) -> None:
    await _world(store)
    agents = builtin_agents(store)
    found = await _diagnose(agents)
    fix = (await agents.run("remediation.fix", {"deployment": DEP.name, "findings": found},
                            ctx(WF, "fix"))).output
    assert [(a["action"], a["target"], a["from"]) for a in fix["actions"]] == [
        ("apply-policy", "monitoring", ["policy_compliance"]),
        ("redeploy", DEP.name, ["deployment_logs", "service_health"]),
    ]
    assert fix["applied"] == [{"kind": "policy", "name": "monitoring-ecommerce-staging"}]
    assert fix["summary"] == "apply-policy monitoring; redeploy ecommerce-staging"

    redeploy = await agents.run("deployment.redeploy", {
        "application": "ecommerce", "environment": "staging", "reason": fix["summary"]},
        ctx(WF, "redeploy"))
    assert redeploy.output["services"] == ["checkout", "payment"]
    assert redeploy.output["previous"]["health"] == "failing"
    healed = await _diagnose(agents)
    assert {c: f["status"] for c, f in healed.items()} == dict.fromkeys(CHECKS, "ok")

    await _undo(agents, redeploy, fix)
    entity = await store.get_entity(DEP)
    assert entity is not None and entity.attrs["health"] == "failing"
    assert entity.attrs["services"] == ["payment"]
    assert await store.get_entity(EntityRef(kind="policy",
                                            name="monitoring-ecommerce-staging")) is None


async def _undo(agents: CapabilityRouter, redeploy: AgentResult, fix: dict[str, Any]) -> None:
    out = redeploy.output
    restored = await agents.run("deployment.restore", {
        "application": "ecommerce", "environment": "staging", "owner": out["owner"],
        "previous": out["previous"]}, ctx(WF, "redeploy"))
    assert restored.output == {"deployment": DEP.name, "deleted": False, "health": "failing"}
    reverted = await agents.run("remediation.revert", {
        "deployment": DEP.name, "owner": fix["owner"], "applied": fix["applied"]},
        ctx(WF, "fix"))
    assert reverted.output["removed"] == ["policy:monitoring-ecommerce-staging"]


async def test_a_retried_redeploy_keeps_the_health_it_first_replaced(
    store: EmbeddedGraphStore,
) -> None:
    await _world(store)
    crashy = builtin_agents(store, {"deployment.redeploy": Fault(fail_attempts=1,
                                                                 after_write=True)})
    params = {"application": "ecommerce", "environment": "staging", "reason": "test"}
    with pytest.raises(TransientFailure):
        await crashy.run("deployment.redeploy", params, ctx(WF, "redeploy", attempt=1))
    again = await crashy.run("deployment.redeploy", params, ctx(WF, "redeploy", attempt=2))
    assert again.output["previous"]["health"] == "failing"
    assert again.output["previous"]["failed_run"] == "redeploy-ecommerce-staging"


async def test_fix_refuses_when_the_application_is_gone(store: EmbeddedGraphStore) -> None:
    await _world(store)
    agents = builtin_agents(store)
    # Gone as by hand (a Cypher DELETE): the run's own service and deployment steps
    # still hold it, so no undo of one step would remove it.
    app = EntityRef(kind="application", name="ecommerce")
    record = await store.get_entity(app)
    assert record is not None and record.users
    await store._write_rows(q.DELETE_ENTITY, id=app.key)
    assert await store.get_entity(app) is None
    found = await _diagnose(agents)
    assert found["service_health"]["blocking"] == [
        "the application it deploys (unknown) no longer exists"]
    with pytest.raises(InvalidInput, match="cannot fix ecommerce-staging: service_health"):
        await agents.run("remediation.fix", {"deployment": DEP.name, "findings": found},
                         ctx(WF, "fix"))


async def test_fix_refuses_findings_of_another_deployment(store: EmbeddedGraphStore) -> None:
    await _world(store)
    agents = builtin_agents(store)
    found = await _diagnose(agents)
    found["policy_compliance"]["deployment"] = "blog-staging"
    with pytest.raises(InvalidInput, match=r"findings\.policy_compliance: a policy_compliance "
                                           r"finding of blog-staging"):
        await agents.run("remediation.fix", {"deployment": DEP.name, "findings": found},
                         ctx(WF, "fix"))
    with pytest.raises(InvalidInput, match="inspection: it is of deployment 'blog-staging'"):
        await agents.run("diagnosis.service_health", {
            "deployment": DEP.name, "inspection": {"deployment": "blog-staging"}},
            ctx(WF, "x"))


def test_findings_judge_the_environment_and_what_production_requires() -> None:
    crowded = findings.environment_resources(
        DEP.name, "staging", True,
        {DEP.name: "failing", "blog-staging": "failing", "shop-staging": "healthy"})
    assert crowded.status == "problem" and crowded.remedies == []
    assert crowded.issues == ["1 other deployment in staging is failing too: blog-staging"]
    gone = findings.environment_resources(DEP.name, "staging", False, {})
    assert [(r.action, r.target) for r in gone.remedies] == [("ensure-environment", "staging")]
    production = findings.policy_compliance("shop-production", "production", ["monitoring"])
    assert production.issues == ["required policy security is missing"]
    assert findings.policy_compliance(DEP.name, "staging", ["monitoring"]).status == "ok"
    long_past = [{"step_id": str(i)} for i in range(50)]
    logs = findings.deployment_logs(DEP.name, {"health": "healthy"}, None, {}, long_past)
    assert logs.status == "ok" and len(logs.evidence["history"]) == findings.HISTORY_QUOTED
    assert logs.evidence["history_steps"] == 50
