"""MCP tool call cost: through the orchestrator against the same call made directly.

For each transport (stdio, streamable HTTP) the project's test chat server is
called ``-n`` times one after another with the same read-only call
(``list_messages``), three ways, in one run:

- direct: one `mcp.Client` session, the call awaited in a loop, back to back and
  again with the caller idle 10 ms before each call (as a step's call is: a call
  after an idle spell costs this machine ~2 ms more, in or out of Temporal);
- hub: the orchestrator's `McpHub` (pooled session, argument validation against
  the tool's schema, pin check, output shaping) without Temporal;
- step: a workflow that calls the orchestrator's real step activity
  (`run_agent_step`: heartbeats, write-behind graph mirror, the hub as the agent)
  once per call, in a chain, through the workflow's own call code
  (`workflows.calls.call_agent`); the cost of a call is the time between the
  workflow seeing one call finish and the next. Twice: as planned (the plan
  marks the step from what the graph saw of the warm-up's calls: a read-only
  tool seen quick runs as a local activity, orchestrator/planning/quick.py), and
  as an activity (a tool's first calls, or a slow one). The hub's call inside
  the activity is timed too: a step's call comes after the worker idled while
  Temporal dispatched it, so it compares with the direct call made 10 ms apart.

The Temporal cost of a step is measured in the same run three ways: a chain of
no-op activities (Temporal alone); a chain of the orchestrator's step activity
with a zero-work agent (the step as the engine benchmark runs it, its mirroring
and heartbeats included); and a chain of steps whose agent only waits as long as
the direct call takes, less that wait (on this machine a step that is not over
at once costs more than one that is: the processes go quiet meanwhile). The
target reads ``step p50 <= 1.5 x direct p50 + step cost p50`` for the step as
planned, judged against both directs and every step cost.

Each way's calls are measured in ``--rounds`` rounds, the ways' order rotating
every round: the machine is shared and its speed drifts, and measured one after
another the ways would each see a different machine.

    python -m bench.mcp_call_cost            # own dev server on a free port
    python -m bench.mcp_call_cost -n 300 --address localhost:7233
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from temporalio import activity, workflow
from temporalio.client import Client as TemporalClient
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.steps import StepActivities
from bench.bare_latency import pct
from bench.mirror_cost import mirror_off
from bench.server import temporal_at
from orchestrator.agents.base import AgentResult, StepContext
from orchestrator.agents.catalogue import PLATFORM_CAPABILITIES
from orchestrator.agents.registry import AgentRegistry
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.mirror import WriteBehindMirror
from orchestrator.mcp import McpHub
from orchestrator.mcp.config import parse_config
from orchestrator.mcp.entities import ToolEntities
from orchestrator.models import Agent, Outcome, RunRecord, RunStatus, Step
from orchestrator.planning.quick import quick_agents
from orchestrator.planning.tool_subject import entity_kinds
from orchestrator.settings import Settings
from tests.mcp.support import ROOT, HttpServerProcess
from worker.client import connect
from worker.runtime import started as worker_started
from workflows.calls import call_agent

TOOL = "list_messages"
# The step as a run's plan has it: once the graph has seen the tool answer quickly,
# a local activity (orchestrator/planning/quick.py); the target is judged on it.
PLANNED = "step as planned"
WAITING = "step, agent waiting as long"
CAPABILITY = f"mcp.chat.{TOOL}"
ARGS = {"channel": "general"}
# A step's call comes after the caller has idled (Temporal dispatching the step);
# a call after an idle spell costs more than one of a back-to-back loop (the
# processes and the CPU have gone quiet), so both are measured.
GAP_S = 0.01
SEED = {"channels": {"general": [{"id": "m1", "channel": "general", "text": "hello"}]},
        "next_id": 1}


@activity.defn
async def noop(i: int) -> int:
    return i


class ZeroWork:
    """An agent that does nothing: what the step activity costs without the call."""

    async def run(self, capability: str, params: dict[str, Any], ctx: StepContext
                  ) -> AgentResult:
        return AgentResult(output={})


@dataclass
class Waiting:
    """An agent that only waits, `seconds` each time (set once the direct call's
    duration is known): a step that takes as long as the call, without the call."""

    samples: list[float]
    seconds: float = 0.0

    async def run(self, capability: str, params: dict[str, Any], ctx: StepContext
                  ) -> AgentResult:
        start = time.perf_counter()
        await asyncio.sleep(self.seconds)
        self.samples.append((time.perf_counter() - start) * 1000)
        return AgentResult(output={})


@dataclass
class TimedAgents:
    """The hub as the step's agent, as the worker runs it (the entities of each call
    kept in the graph), each call it makes inside the activity timed."""

    tools: ToolEntities
    samples: list[float]

    async def run(self, capability: str, params: dict[str, Any], ctx: StepContext
                  ) -> AgentResult:
        start = time.perf_counter()
        try:
            return await self.tools.run(capability, params, ctx)
        finally:
            self.samples.append((time.perf_counter() - start) * 1000)


@dataclass
class ChainInput:
    calls: int
    # None: no-op activities; else the agent (its definition) each step runs on.
    agent: Agent | None = None
    # The step's agents seen quick (as the plan marks them: planning/quick.py).
    quick_agents: list[str] = field(default_factory=list)


@workflow.defn
class CallChain:
    """Calls one after another, each as the orchestrator's workflow calls a step
    (`workflows.calls.call_agent`); returns the gap (ms) between consecutive
    finishes."""

    @workflow.run
    async def run(self, request: ChainInput) -> list[float]:
        seen = [workflow.time()]
        for i in range(request.calls):
            if request.agent is not None:
                step = Step(id=f"call-{i}", capability=CAPABILITY, agent=request.agent.id,
                            parameters=dict(ARGS), quick_agents=request.quick_agents)
                await call_agent(step, request.agent,
                                 local=request.agent.id in step.quick_agents)
            else:
                await workflow.execute_activity(noop, i,
                                                start_to_close_timeout=timedelta(seconds=30))
            seen.append(workflow.time())
        return [(b - a) * 1000 for a, b in itertools.pairwise(seen)]


@dataclass
class Figures:
    label: str
    samples: list[float]

    def line(self) -> str:
        return (f"{self.label:<28} p50 {statistics.median(self.samples):7.2f} ms   "
                f"p95 {pct(self.samples, 0.95):7.2f} ms   n={len(self.samples)}")


def seeded_state(directory: Path, name: str) -> Path:
    path = directory / f"{name}.json"
    path.write_text(json.dumps(SEED))
    return path


@contextlib.asynccontextmanager
async def direct_client(entry: dict[str, Any]) -> AsyncIterator[Client]:
    if "url" in entry:
        transport: Any = streamable_http_client(entry["url"])
    else:
        transport = stdio_client(StdioServerParameters(
            command=entry["command"], args=entry["args"], cwd=entry.get("cwd")
        ))
    async with Client(transport) as client:
        yield client


async def time_calls(call: Any, calls: int, warmup: int, gap_s: float = 0.0) -> list[float]:
    """Each call timed alone; with `gap_s`, the caller idles that long before each."""
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(calls):
        if gap_s:
            await asyncio.sleep(gap_s)
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def chain(client: TemporalClient, queue: str, request: ChainInput) -> list[float]:
    gaps: list[float] = await client.execute_workflow(
        CallChain.run, request, id=f"bench-mcp-{uuid.uuid4()}", task_queue=queue
    )
    return gaps


@contextlib.asynccontextmanager
async def chain_worker(
    client: TemporalClient, steps: StepActivities | None, agent: Agent,
    quick_agents: Sequence[str] = (),
) -> AsyncIterator[Any]:
    """A worker for chains of step activities (of no-ops if `steps` is None); yields
    a function that runs one chain of n calls and returns their costs. On
    `quick_agents` a step runs as a local activity, as a plan marking them has it."""
    queue = f"bench-mcp-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=queue, workflows=[CallChain],
        activities=[steps.run_agent_step if steps else noop],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        async def run(calls: int) -> list[float]:
            return await chain(client, queue, ChainInput(
                calls, agent if steps else None, list(quick_agents)))

        yield run


async def told_as_runs(store: EmbeddedGraphStore, agent: str, calls: list[float]) -> None:
    """Each call's outcome into the graph's statistics, as a run of one step would
    leave it (`RunRecord.outcomes`)."""
    for i, ms in enumerate(calls):
        await store.record_run(RunRecord(
            workflow_id=f"bench-warmup-{uuid.uuid4()}", request=f"warm-up call {i}",
            status=RunStatus.COMPLETED, finished_at=datetime.now(UTC),
            outcomes=[Outcome(step_id="call", agent=agent, capability=CAPABILITY, ok=True,
                              duration_ms=round(ms))],
        ))


async def one_transport(
    name: str, entry: dict[str, Any], client: TemporalClient, args: argparse.Namespace,
    work: Path,
) -> tuple[list[Figures], bool]:
    """Every way measured in rounds, the order rotating each round, so that the
    machine's drift (it is shared and noisy) falls on all of them alike."""
    config = parse_config({"mcpServers": {"chat": entry}})
    store = EmbeddedGraphStore(work / f"graph-{name}.lbug")
    await store.setup()
    if args.mirror == "off":
        mirror_off(store)
    mirror = WriteBehindMirror(store)
    hub = McpHub(config, data_dir=work / f"mcp-{name}")
    try:
        async with contextlib.AsyncExitStack() as stack:
            direct = await stack.enter_async_context(direct_client(entry))
            await hub.discover()
            agent = hub.agents[0]

            async def direct_call() -> None:
                result = await direct.call_tool(TOOL, ARGS)
                assert not result.is_error, result

            async def hub_call() -> None:
                await hub.call_tool("chat", TOOL, ARGS)

            inside: list[float] = []
            registry = AgentRegistry([*PLATFORM_CAPABILITIES, *hub.capabilities], hub.agents)
            await store.register_catalogue(hub.capabilities, hub.agents)  # as a worker does
            tools = ToolEntities(hub, store, lambda: entity_kinds(registry))
            step = await stack.enter_async_context(
                chain_worker(client, StepActivities(TimedAgents(tools, inside), mirror), agent))
            # The warm-up's calls are the graph's first sight of the tool, told it as
            # the final mirror of a run of each would; the plan then marks the step
            # as it would for a run.
            await step(args.warmup)
            await told_as_runs(store, agent.id, inside)
            inside.clear()
            stats = await store.agent_stats()
            seen = stats.get(f"{agent.id}/{CAPABILITY}")
            quick = quick_agents(Step(id="call", capability=CAPABILITY, agent=agent.id),
                                 registry.capability(CAPABILITY), stats)
            print(f"{name}: the plan runs the step as "
                  f"{'a local activity' if quick else 'an activity'} (the graph saw "
                  f"{seen.runs if seen else 0} calls, recently {seen.recent_ms if seen else 0:.1f}"
                  f" ms each)")
            planned = await stack.enter_async_context(chain_worker(
                client, StepActivities(TimedAgents(tools, []), mirror), agent, quick))
            empty = await stack.enter_async_context(
                chain_worker(client, StepActivities(ZeroWork(), mirror), agent))
            noop_chain = await stack.enter_async_context(chain_worker(client, None, agent))
            waiting = Waiting([])
            wait_chain = await stack.enter_async_context(
                chain_worker(client, StepActivities(waiting, mirror), agent))
            worker_started()  # as a worker process does once it is up
            def paced(n: int) -> Any:
                return time_calls(direct_call, n, 0, GAP_S)

            ways: list[tuple[str, Any]] = [
                ("direct", lambda n: time_calls(direct_call, n, 0)),
                ("hub (no Temporal)", lambda n: time_calls(hub_call, n, 0)),
                (PLANNED, planned),
                ("step as an activity", step),
                ("no-op step", noop_chain),
                ("step, zero-work agent", empty),
                (f"direct, {GAP_S * 1000:.0f} ms apart", paced),
                (WAITING, wait_chain),
            ]
            for _, measure in ways:  # warm-up: sessions, caches, workflow code
                await measure(args.warmup)
            # The waiting agent waits as long as a step's call takes (one made after
            # an idle spell, as the step's is).
            waiting.seconds = statistics.median(await paced(args.warmup)) / 1000
            inside.clear()
            waiting.samples.clear()
            samples: dict[str, list[float]] = {label: [] for label, _ in ways}
            per_round = max(args.calls // args.rounds, 1)
            for r in range(args.rounds):
                k = r % len(ways)
                for label, measure in ways[k:] + ways[:k]:
                    samples[label] += await measure(per_round)
    finally:
        await hub.close()
        await mirror.close()
        await store.close()
    return [Figures(f"{name}: {label}", samples[label]) for label, _ in ways] + [
        Figures(f"{name}: call in step activity", inside),
        Figures(f"{name}: wait in waiting step", waiting.samples),
    ], bool(quick)


def verdict(figures: list[Figures], local: bool) -> str:
    """How the step as planned (`local`: as a local activity) compares."""
    p50 = {f.label.split(": ", 1)[1]: statistics.median(f.samples) for f in figures}
    direct, hub, step = p50["direct"], p50["hub (no Temporal)"], p50[PLANNED]
    noop_step, empty_step = p50["no-op step"], p50["step, zero-work agent"]
    paced, wait_step = p50[f"direct, {GAP_S * 1000:.0f} ms apart"], p50[WAITING]
    inside, waited = p50["call in step activity"], p50["wait in waiting step"]
    lines = [f"  {PLANNED} ({'a local activity' if local else 'an activity'}) p50 "
             f"{step:.2f} ms, x{step / direct:.2f} direct; as an activity "
             f"{p50['step as an activity']:.2f} ms"]
    lines += [f"  hub/direct x{hub / direct:.2f}; step - no-op step = {step - noop_step:.2f} ms; "
             f"step - zero-work step = {step - empty_step:.2f} ms",
             f"  the call inside the step activity: {inside:.2f} ms, {inside - paced:+.2f} ms "
             f"against a direct call made as long after the last one",
             f"  step cost: no-op {noop_step:.2f} ms, zero-work {empty_step:.2f} ms, one that "
             f"waits {waited:.2f} ms: {wait_step - waited:.2f} ms besides its wait"]
    gap = f"direct {GAP_S * 1000:.0f} ms apart"
    costs = (("no-op step", noop_step), ("zero-work step", empty_step),
             ("cost of a step as long", wait_step - waited))
    for cost_label, cost in costs:
        for label, base in (("direct", direct), (gap, paced)):
            bar = 1.5 * base + cost
            share = step - cost
            # Below zero, the step took less than the cost it is judged with: as a
            # local activity it pays no such cost; as an activity, that is noise.
            told = (f"x{share / base:.2f}" if share >= 0 else
                    f"less than that cost alone: x{step / base:.2f} the {label} call in all"
                    if local else "less than that cost alone: too noisy to tell; more -n")
            lines.append(
                f"  target step <= 1.5 x {label} + {cost_label} = {bar:.2f} ms: "
                f"{'met' if step <= bar else 'NOT met'} ({told})"
            )
    return "\n".join(lines)


async def bench(address: str, args: argparse.Namespace) -> None:
    client = await connect(Settings(temporal_address=address))
    work = Path(tempfile.mkdtemp(prefix="bench-mcp-"))
    stdio = {"command": sys.executable, "args": [
        "-m", "tests.mcp_servers.chat_server", "--state", str(seeded_state(work, "stdio"))],
        "cwd": str(ROOT)}
    http = HttpServerProcess("chat_server", seeded_state(work, "http"))
    http.start()
    try:
        for name, entry in (("stdio", stdio), ("http", http.entry())):
            figures, local = await one_transport(name, entry, client, args, work)
            for f in figures:
                print(f.line())
            print(verdict(figures, local))
    finally:
        http.kill()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--calls", type=int, default=200, help="calls measured per way")
    p.add_argument("--warmup", type=int, default=20, help="unmeasured calls per way first")
    p.add_argument("--rounds", type=int, default=10,
                   help="the calls of each way are measured in this many rounds, interleaved")
    p.add_argument("--mirror", choices=("on", "off"), default="on",
                   help="off: the step activity's graph writes do nothing, to isolate them")
    p.add_argument("--address", help="an existing Temporal server (default: start a dev server)")
    return p.parse_args(argv)


async def amain(args: argparse.Namespace) -> None:
    async with temporal_at(args.address) as address:
        await bench(address, args)


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(amain(parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
