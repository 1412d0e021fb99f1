"""Planning latency with and without plan reuse.

For each pair, the second request is planned three ways: with reuse on in a
fresh graph (nothing stored), and in a graph where the first request was planned
and carried out to completion by the built-in agents (so a plan of the same
structure is stored) by synthesis alone and with reuse. The reused plan must
equal the synthesised one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.agents.registry import AgentRegistry
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import Plan
from orchestrator.planning.offline import OfflinePlanner
from tests.plan_runs import carry_out

PAIRS = [
    ("Create application ecommerce with payment service, deploy to production with "
     "monitoring and security policies",
     "Create application shop with cart service, deploy to staging with monitoring and "
     "security policies"),
    ("create application shop with payment service", "create application blog with comments "
     "service"),
    ("deploy shop to staging", "deploy blog to production"),
    # The same request again: the application its first run made exists now.
    ("add a payment service for shop", "add a payment service for shop"),
]
TIMES = 50


@dataclass
class ReuseRow:
    request: str
    synthesis_ms: float
    nothing_stored_ms: float
    stored_ms: float
    reused: bool
    same_plan: bool


async def _fresh(path: Path, registry: AgentRegistry) -> EmbeddedGraphStore:
    store = EmbeddedGraphStore(path)
    await store.setup()
    await store.register_catalogue(registry.capabilities, registry.agents)
    return store


async def _timed(planner: OfflinePlanner, request: str, times: list[float]) -> Plan:
    start = time.perf_counter()
    plan = await planner.plan(request)
    times.append((time.perf_counter() - start) * 1000)
    return plan


def _p50(times: list[float]) -> float:
    return sorted(times)[len(times) // 2]


async def measure_reuse(directory: Path) -> list[ReuseRow]:
    """The three ways are timed in turn, round after round, so that whatever else
    the machine does weighs on each alike."""
    registry = AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)
    rows = []
    for n, (earlier, request) in enumerate(PAIRS):
        empty = await _fresh(directory / f"empty-{n}", registry)
        stored = await _fresh(directory / f"stored-{n}", registry)
        try:
            synthesis = OfflinePlanner(registry, stored, reuse_plans=False)
            await carry_out(stored, await synthesis.plan(earlier), f"earlier-{n}")
            nothing = OfflinePlanner(registry, empty)
            reuse = OfflinePlanner(registry, stored)
            times: tuple[list[float], list[float], list[float]] = ([], [], [])
            for _ in range(TIMES):
                synthesised = await _timed(synthesis, request, times[0])
                await _timed(nothing, request, times[1])
                plan = await _timed(reuse, request, times[2])
            origin = {"reused_from": None, "reuse_similarity": None}
            rows.append(ReuseRow(
                request, _p50(times[0]), _p50(times[1]), _p50(times[2]),
                plan.reused_from is not None, plan.model_copy(update=origin) == synthesised,
            ))
        finally:
            await empty.close()
            await stored.close()
    return rows


def print_reuse(rows: list[ReuseRow]) -> None:
    print(f"plan reuse: planning latency p50 over {TIMES} plannings (ms)")
    print(f"{'synthesis':>10}{'reuse, none stored':>19}{'reuse, stored':>14}  reused  same plan  "
          "request")
    for r in rows:
        print(f"{r.synthesis_ms:>10.2f}{r.nothing_stored_ms:>19.2f}{r.stored_ms:>14.2f}  "
              f"{'yes' if r.reused else 'no':<6}  {'yes' if r.same_plan else 'NO':<9}  "
              f"{r.request[:60]}")
