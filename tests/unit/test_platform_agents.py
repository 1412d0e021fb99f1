"""Built-in agents: idempotent actions and undos that remove only their own work."""

from __future__ import annotations

import pytest

from orchestrator.agents.base import StepContext
from orchestrator.agents.faults import Fault
from orchestrator.agents.platform import PlatformAgents
from orchestrator.errors import InvalidInput, TransientFailure
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import EntityRef


def _ctx(step: str, attempt: int = 1) -> StepContext:
    return StepContext(workflow_id="wf", step_id=step, attempt=attempt)


async def test_actions_and_their_undos_leave_nothing_but_what_existed(
    store: EmbeddedGraphStore,
) -> None:
    env = EntityRef(kind="environment", name="prod")
    await store.claim_entity(env, "earlier/run", {})
    agents = PlatformAgents(store)
    forward = [
        ("app", "application.create", {"name": "shop"}),
        ("svc", "service.create", {"application": "shop", "name": "pay"}),
        ("env", "environment.ensure", {"name": "prod"}),
        ("dep", "deployment.create", {"application": "shop", "environment": "prod"}),
        ("pol", "policy.apply", {"deployment": "shop-prod", "policy": "security"}),
    ]
    outputs = {step: (await agents.run(cap, params, _ctx(step))).output
               for step, cap, params in forward}
    assert outputs["env"]["created"] is False  # validated, not made
    assert outputs["dep"]["services"] == ["pay"]
    undo = {"application.create": "application.delete", "service.create": "service.delete",
            "environment.ensure": "environment.release", "deployment.create": "deployment.delete",
            "policy.apply": "policy.remove"}
    for step, cap, params in reversed(forward):
        owner = outputs[step]["owner"]
        await agents.run(undo[cap], {**params, "owner": owner}, _ctx(f"{step}-undo"))
    assert [(e.kind, e.name) for e in await store.find_entities()] == [("environment", "prod")]
    assert await store.relations(env) == []


async def test_retry_after_a_write_finds_its_own_entity(store: EmbeddedGraphStore) -> None:
    agents = PlatformAgents(store, {"application.create": Fault(fail_attempts=1, after_write=True)})
    with pytest.raises(TransientFailure, match="attempt 1"):
        await agents.run("application.create", {"name": "shop"}, _ctx("app"))
    retried = await agents.run("application.create", {"name": "shop"}, _ctx("app", attempt=2))
    assert retried.output == {"application": "shop", "created": True, "owner": "wf/app"}
    assert len(await store.find_entities("application")) == 1


async def test_service_of_a_missing_application_fails_for_good(
    store: EmbeddedGraphStore,
) -> None:
    with pytest.raises(InvalidInput, match="application 'ghost' does not exist \\(if it did when "):
        await PlatformAgents(store).run(
            "service.create", {"application": "ghost", "name": "pay"}, _ctx("svc")
        )


async def test_a_fault_can_target_steps_by_parameter(store: EmbeddedGraphStore) -> None:
    fault = Fault(fail_attempts=1, non_retryable=True, when={"name": "broken"})
    agents = PlatformAgents(store, {"application.create": fault})
    with pytest.raises(InvalidInput, match="injected failure"):
        await agents.run("application.create", {"name": "broken"}, _ctx("a"))
    fine = await agents.run("application.create", {"name": "shop"}, _ctx("b"))
    assert fine.output["created"] is True


async def test_a_deployment_holds_the_services_it_ships(store: EmbeddedGraphStore) -> None:
    agents = PlatformAgents(store)

    def step(workflow: str, step_id: str) -> StepContext:
        return StepContext(workflow_id=workflow, step_id=step_id, attempt=1)

    # Run A makes om2 and its service osvc; run B deploys om2 (with osvc) and
    # completes; then A rolls back.
    await agents.run("application.create", {"name": "om2"}, step("A", "app"))
    await agents.run("service.create", {"application": "om2", "name": "osvc"}, step("A", "svc"))
    await agents.run("environment.ensure", {"name": "staging"}, step("B", "env"))
    deployed = await agents.run("deployment.create",
                                {"application": "om2", "environment": "staging"},
                                step("B", "deploy"))
    assert deployed.output["services"] == ["osvc"]
    undone = await agents.run("service.delete",
                              {"application": "om2", "name": "osvc", "owner": "A/svc"},
                              step("A", "svc"))
    assert undone.output == {"service": "osvc", "deleted": False, "kept_for": "B/deploy"}
    osvc = EntityRef(kind="service", name="osvc")
    assert await store.get_entity(osvc) is not None
    # Still om2's: the deployment relies on that too.
    assert [(r.source.name, r.type) for r in await store.relations(osvc)] == [("om2", "owns")]
