"""A step whose agent does not finish within its timeout, on the real dev server:
the step says which agent, which limit and how many attempts it took, and moves to
the capability's other agent (which has time enough)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import Client

from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer
from orchestrator.models import (
    Agent,
    AgentKind,
    EntityRef,
    RetrySpec,
    RunResult,
    RunStatus,
    StepStatus,
)
from tests.integration.stack import running_stack

# A second provider of services: each of its tries takes longer than it is given.
SLOW = Agent(id="edge-service-agent", kind=AgentKind.BUILTIN, start_to_close_ms=600,
             retry=RetrySpec(initial_interval_ms=50, max_attempts=2),
             capabilities=["service.create", "service.delete"])


async def test_a_timed_out_step_names_its_agent_its_limit_and_its_attempts(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(
        client, temporal_server.address, tmp_path, extra_agents=[SLOW],
        agent_faults={"service.create": Fault(delay_ms=3000)},
    ) as s:
        # New agents go first, by name: it has the step before service-agent.
        reply = await s.http.post("/v3/ai/chat", json={
            "message": "create application tshop with payment service", "wait": True})
    assert reply.status_code == 200, reply.text
    result = RunResult.model_validate(reply.json()["result"])
    assert result.status == RunStatus.COMPLETED
    step = result.steps["create-service-payment"]
    assert step.status == StepStatus.COMPLETED and step.agent == "service-agent"
    slow, steady = step.tries
    assert (slow.agent, slow.ok, slow.attempts) == (SLOW.id, False, 2)
    assert slow.error == ("edge-service-agent did not finish within 600 ms (its timeout); "
                          "2 attempts made")
    assert (steady.agent, steady.ok) == ("service-agent", True)


# Its one attempt outlives its timeout; the run then rolls back.
LATE = Agent(id="edge-service-agent", kind=AgentKind.BUILTIN, start_to_close_ms=600,
             retry=RetrySpec(max_attempts=1),
             capabilities=["service.create", "service.delete"])


async def test_an_attempt_past_its_timeout_does_not_act_after_its_step_is_undone(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    faults = {"service.create": Fault(delay_ms=1500, agent=LATE.id),
              "deployment.create": Fault(fail_attempts=1, non_retryable=True)}
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        made = await s.http.post("/v3/ai/chat", json={"message": "create application zshop",
                                                      "wait": True})
        assert made.json()["result"]["status"] == "completed", made.text
    async with running_stack(client, temporal_server.address, tmp_path, extra_agents=[LATE],
                             agent_faults=faults) as s:
        reply = await s.http.post("/v3/ai/chat", json={
            "message": "create application zshop with zz service, deploy to staging",
            "wait": True})
        result = RunResult.model_validate(reply.json()["result"])
        assert result.status == RunStatus.ROLLED_BACK, result.problem
        step = result.steps["create-service-zz"]
        assert [(t.agent, t.ok) for t in step.tries] == [(LATE.id, False),
                                                        ("service-agent", True)]
        assert step.tries[0].error == (
            "edge-service-agent did not finish within 600 ms (its timeout)")
        # Past the moment the late attempt would have written, had it gone on.
        await asyncio.sleep(1.5)
        zz = await s.runtime.store.get_entity(EntityRef(kind="service", name="zz"))
        zshop = await s.runtime.store.get_entity(EntityRef(kind="application", name="zshop"))
    assert zz is None
    assert zshop is not None and zshop.users == []


async def test_a_step_on_its_second_attempt_shows_it_while_it_runs(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    """The run's own state learns of attempts when a step ends; Temporal knows of
    them before, and the API shows what it knows."""
    flaky = {"service.create": Fault(fail_attempts=1, delay_ms=1500)}
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=flaky) as s:
        started = await s.http.post("/v3/ai/chat", json={
            "message": "create application retry with payment service"})
        wf = started.json()["workflow_id"]
        seen = None
        async with asyncio.timeout(20):
            while seen is None:
                state = (await s.http.get(f"/v1/workflows/{wf}")).json()
                step = state["steps"]["create-service-payment"]
                assert step["status"] != "completed", "its second attempt was never shown"
                if step["status"] == "running" and step["attempts"] == 2:
                    seen = step
                await asyncio.sleep(0.1)
    assert seen["error"].startswith("attempt 1 failed: injected failure"), seen
    assert seen["error"].endswith("; trying again")
