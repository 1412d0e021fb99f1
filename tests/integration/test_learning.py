"""S8: two agents provide deployments and one fails; the step moves to the other
before any rollback, the graph keeps both attempts, and selection learns."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from temporalio.client import Client

from orchestrator.agents.faults import Fault
from orchestrator.agents.selection import EXPLORE_EVERY, MIN_TRIES
from orchestrator.devserver import DevServer
from orchestrator.models import Agent, AgentKind, RunResult, RunStatus
from tests.integration.stack import running_stack

FLAKY, STEADY = "deployment-agent", "deployment-agent-b"
SECOND = Agent(id=STEADY, kind=AgentKind.BUILTIN, heartbeat_ms=5_000,
               capabilities=["deployment.create", "deployment.delete"])
# The first deployment agent always fails, for good.
BROKEN = {"deployment.create": Fault(fail_attempts=99, non_retryable=True, agent=FLAKY)}
DEPLOY = "deploy-deployment-shop{i}-production"


async def test_a_failing_agent_is_replaced_and_then_avoided(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    chosen: list[str] = []
    async with running_stack(client, temporal_server.address, tmp_path,
                             extra_agents=[SECOND], agent_faults=BROKEN) as s:
        for i in range(MIN_TRIES + EXPLORE_EVERY):
            reply = await s.http.post("/v3/ai/chat", json={
                "message": f"create application shop{i} and deploy it to production",
                "wait": True,
            })
            assert reply.status_code == 200, reply.text
            result = RunResult.model_validate(reply.json()["result"])
            assert result.status == RunStatus.COMPLETED, result.problem
            assert result.plan is not None
            step = next(x for x in result.plan.steps if x.capability == "deployment.create")
            chosen.append(step.agent)
            deployed = result.steps[step.id]
            assert deployed.agent == STEADY
            if step.agent == FLAKY:  # moved over, both attempts kept
                assert [(t.agent, t.ok) for t in deployed.tries] == [(FLAKY, False), (STEADY, True)]
            if i == 0:
                first = await s.runtime.store.run_graph(result.workflow_id)
        stats = await s.runtime.store.agent_stats()
        dry = await s.http.post("/v3/ai/chat", json={
            "message": "create application shopx and deploy it to production", "dry_run": True,
        })
    # Predictions now come from what was observed, not from the defaults.
    preview = dry.json()["preview"]
    assert preview["basis"].startswith("history of every step's agent"), preview
    assert 0.5 < preview["predicted_success"] < 1.0

    # Both agents had a go at the first run's deployment, and the graph says so; its
    # step names the one that did it.
    assert sorted(a for step, a in first.executed_by if step == DEPLOY.format(i=0)) == [
        FLAKY, STEADY
    ]
    assert first.steps[DEPLOY.format(i=0)]["agent"] == STEADY
    # New agents are tried first; after that the steady one is chosen at least
    # 9 times in 10 (one in ten explores).
    assert chosen[:MIN_TRIES] == [FLAKY] * MIN_TRIES
    assert Counter(chosen[MIN_TRIES:])[STEADY] >= EXPLORE_EVERY - 1
    flaky, steady = stats[f"{FLAKY}/deployment.create"], stats[f"{STEADY}/deployment.create"]
    assert flaky.successes == 0 and flaky.runs == chosen.count(FLAKY)
    assert steady.successes == steady.runs == len(chosen)
