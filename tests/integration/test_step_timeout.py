"""A step whose agent does not finish within its timeout, on the real dev server:
the step says which agent, which limit and how many attempts it took, and moves to
the capability's other agent (which has time enough)."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer
from orchestrator.models import Agent, AgentKind, RetrySpec, RunResult, RunStatus, StepStatus
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
