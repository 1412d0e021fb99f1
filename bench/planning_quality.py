"""How well the offline planner plans: bench/planning_set.json, scored by structure.

Each request is planned in a fresh embedded graph holding what the request
assumes exists (made first by the built-in agents), with the platform catalogue
and the tools discovered from the project's test MCP servers (over stdio) in the
registry. Printed per category and overall: the exact-plan rate on the requests
the planner accepts, edge precision and recall, refusal correctness (must-refuse
refused, must-accept accepted) and planning latency p50/p95; then the latency of
plan reuse (bench/planning_reuse.py).

    .venv/bin/python -m bench.planning_quality [--repeat 5] [--misses]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.planning_cases import CATEGORIES, Case, PlanningSet, Score, load_set, score
from bench.planning_reuse import measure_reuse, print_reuse
from orchestrator.agents.base import StepContext
from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.agents.dispatch import builtin_agents
from orchestrator.agents.faults import Fault
from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import OrchestratorError
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.mcp import McpHub, parse_config
from orchestrator.models import AgentKind, EntityRef, Limits
from orchestrator.planning.offline import OfflinePlanner, with_definitions
from tests.mcp.support import python_server
from workflows.validation import validate_plan


@dataclass
class Outcome:
    case: Case
    accepted: bool
    latencies_ms: list[float]
    score: Score | None = None
    # Why it was refused, or what validation found wrong with the plan.
    problem: str = ""


@dataclass
class World:
    registry: AgentRegistry
    store: EmbeddedGraphStore


# What a user configures once rather than says in every request: the channel
# notifications go to ("notifications go to #releases").
TOOL_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "slack": {"post_message": {"channel": "releases"}},
}


def _tools(server: str, tools: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    with_defaults = {tool: dict(options) for tool, options in tools.items()}
    for tool, defaults in TOOL_DEFAULTS.get(server, {}).items():
        with_defaults.setdefault(tool, {})["defaults"] = defaults
    return with_defaults


def mcp_hub(planning_set: PlanningSet, tmp: Path) -> McpHub:
    servers = {
        name: python_server(s["module"], "--state", str(tmp / f"{name}.json"),
                            tools=_tools(name, s["tools"]))
        for name, s in planning_set.mcp_servers.items()
    }
    return McpHub(parse_config({"mcpServers": servers}), data_dir=tmp / "mcp")


@asynccontextmanager
async def world(hub: McpHub, path: Path) -> AsyncIterator[World]:
    """A fresh graph, and the catalogue the worker would have: the built-in pack and
    the hub's tools, registered as the worker registers them."""
    store = EmbeddedGraphStore(path)
    await store.setup()
    registry = AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)
    registry.replace_kind(AgentKind.MCP, hub.capabilities, hub.agents)
    await store.register_catalogue(registry.capabilities, registry.agents)
    try:
        yield World(registry, store)
    finally:
        await store.close()


async def make_given(w: World, case: Case) -> None:
    for n, item in enumerate(case.given):
        ctx = StepContext(workflow_id=f"given-{case.id}", step_id=f"g{n}", attempt=1)
        if "entity" in item:
            await w.store.claim_entity(EntityRef(**item["entity"]), ctx.owner, {})
        elif "failed" in item:
            call = item["failed"]
            fault = {call["capability"]: Fault(fail_attempts=1, non_retryable=True)}
            try:
                await builtin_agents(w.store, fault).run(call["capability"], call["params"], ctx)
            except OrchestratorError:
                continue
            raise RuntimeError(f"{case.id}: the call meant to fail succeeded")
        else:
            await builtin_agents(w.store).run(item["capability"], item["params"], ctx)


async def run_case(hub: McpHub, case: Case, path: Path, repeat: int) -> Outcome:
    async with world(hub, path) as w:
        await make_given(w, case)
        planner = OfflinePlanner(w.registry, w.store)
        latencies: list[float] = []
        # Untimed first: a fresh database compiles each statement on first use, which
        # a running worker's long-lived graph has long done.
        with contextlib.suppress(OrchestratorError):
            await planner.plan(case.request)
        for _ in range(repeat):
            start = time.perf_counter()
            try:
                plan = await planner.plan(case.request)
                refusal = None
            except OrchestratorError as error:
                refusal = str(error)
            latencies.append((time.perf_counter() - start) * 1000)
        if refusal is not None:
            return Outcome(case, False, latencies, problem=refusal)
        problems = validate_plan(with_definitions(plan, w.registry), Limits())
        outcome = Outcome(case, True, latencies, problem="; ".join(problems))
        if case.expect == "plan":
            outcome.score = score(case, plan)
            outcome.score.exact = outcome.score.exact and not problems
        return outcome


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _rate(n: int, of: int) -> str:
    return f"{n}/{of} ({100 * n / of:.0f}%)" if of else "-"


def report(outcomes: list[Outcome], misses: bool) -> None:
    print(f"{'category':<13}{'n':>3}  {'exact on accepted':<18}{'edge P':>7}{'edge R':>7}  "
          f"{'must-refuse refused':<20}{'must-accept accepted':<21}{'p50 ms':>7}{'p95 ms':>7}")
    for name in (*CATEGORIES, "all"):
        group = [o for o in outcomes if name in ("all", o.case.category)]
        if not group:
            continue
        accepted = [o for o in group if o.accepted]
        exact = sum(1 for o in accepted if o.score is not None and o.score.exact)
        scored = [o.score for o in accepted if o.score is not None]
        right = sum(s.edges_right for s in scored)
        planned = sum(s.edges_planned for s in scored)
        expected = sum(s.edges_expected for s in scored)
        refuse = [o for o in group if o.case.expect == "refuse"]
        accept = [o for o in group if o.case.expect == "plan"]
        times = [t for o in group for t in o.latencies_ms]
        print(f"{name:<13}{len(group):>3}  {_rate(exact, len(accepted)):<18}"
              f"{(right / planned if planned else 1.0):>7.2f}"
              f"{(right / expected if expected else 1.0):>7.2f}  "
              f"{_rate(sum(not o.accepted for o in refuse), len(refuse)):<20}"
              f"{_rate(len([o for o in accept if o.accepted]), len(accept)):<21}"
              f"{percentile(times, 0.5):>7.1f}{percentile(times, 0.95):>7.1f}")
    if misses:
        print("\nnot exact or not as expected:")
        for o in outcomes:
            if o.case.expect == "plan" and o.accepted and o.score is not None and o.score.exact:
                continue
            if o.case.expect == "refuse" and not o.accepted:
                continue
            detail = o.problem
            if o.score is not None:
                detail = f"missing {o.score.missing}, extra {o.score.extra}, edges " \
                         f"{o.score.edges_right}/{o.score.edges_expected} {o.problem}"
            print(f"  [{o.case.category}] {o.case.id}: {o.case.request!r}\n      {detail}")


async def main(repeat: int, misses: bool) -> None:
    planning_set = load_set()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        hub = mcp_hub(planning_set, tmp)
        try:
            failures = await hub.discover()
            if failures:
                raise SystemExit(f"MCP servers did not answer: {failures}")
            outcomes = [
                await run_case(hub, case, tmp / f"graph-{case.id}", repeat)
                for case in planning_set.requests
            ]
            reuse = await measure_reuse(tmp / "reuse")
        finally:
            await hub.close()
    print(f"offline planner on {len(outcomes)} requests, {repeat} plannings each\n")
    report(outcomes, misses)
    print()
    print_reuse(reuse)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="plannings per request")
    parser.add_argument("--misses", action="store_true", help="list what was not as expected")
    args = parser.parse_args()
    asyncio.run(main(args.repeat, args.misses))
