"""Graph growth benchmark: does a run's final mirror get slower as runs pile up?

Two embedded stores side by side, one empty and one holding ``--stored`` runs
(S1's plan: 6 steps, their dependencies, states and agents' outcomes; every run
operates on the one ``production`` environment, as runs of one team do). A fresh
run's final mirror is then written to each in turn, ``--samples`` times, so that
both see the same machine. Prints p50 per store, the ratio (a write that scales
with the graph's size, not the run's, shows here), and the statements' times.

With ``--grown``, both stores hold the runs, and the difference is how they got
there: one grew run by run in this process from empty (its statements first ran,
and had their plans made, while it was empty), the other was filled the same way
and then reopened (plans made afresh for what it holds). The ratio shows what
plans made for a smaller graph cost.

With ``--store neo4j``, one Neo4j (``NEO4J_URI``/``NEO4J_PASSWORD``, else one
started from the launcher) is first warmed up (its JIT: ``bench.neo4j_warmup``),
a fresh run's final mirror timed, ``--stored`` runs more stored, and timed again.

Run from the project root::

    python -m bench.graph_growth                       # 5,000 runs stored
    python -m bench.graph_growth --stored 20000 --samples 60
    python -m bench.graph_growth --grown --stored 3000
    python -m bench.graph_growth --store neo4j --stored 20000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.mirror_cost import neo4j_access
from bench.neo4j_warmup import warm_up
from bench.s1_overhead import S1, GraphTimer
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.store import GraphStore
from orchestrator.models import (
    EntityRef,
    Outcome,
    Plan,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
)
from orchestrator.settings import Settings
from worker.runtime import build_planner, build_runtime

FILL_BATCH = 500
# A fresh Neo4j runs slowly until its JIT has compiled the hot paths: ~8,000 runs'
# statements (neo4j_warmup.py); timed before that, the store would seem to speed up.
WARM_RUNS = 8000
# The entity every run touches: its incoming OPERATES_ON grow with the graph.
SHARED = EntityRef(kind="environment", name="production")


def final_mirror(plan: Plan, workflow_id: str) -> RunRecord:
    """A completed S1 run as its final mirror carries it."""
    steps = [
        StepRecord(workflow_id=workflow_id, step_id=s.id, capability=s.capability,
                   agent=s.agent, status=StepStatus.COMPLETED, attempt=1,
                   output={"name": s.id}, operates_on=[SHARED])
        for s in plan.steps
    ]
    outcomes = [Outcome(step_id=s.id, agent=s.agent, capability=s.capability, ok=True,
                        duration_ms=3) for s in plan.steps]
    return RunRecord(workflow_id=workflow_id, request=plan.request,
                     status=RunStatus.COMPLETED, plan=plan, steps=steps, outcomes=outcomes)


async def fill(
    store: GraphStore, plan: Plan, runs: int, batch: int = FILL_BATCH
) -> float:
    """Store `runs` runs, `batch` to a transaction; returns the seconds it took."""
    start = time.perf_counter()
    for first in range(0, runs, batch):
        ids = range(first, min(first + batch, runs))
        # Issued together, they share the store's group commit.
        await asyncio.gather(*(store.record_run(final_mirror(plan, f"stored-{i:07d}"))
                               for i in ids))
    return time.perf_counter() - start


@dataclass
class Growth:
    """One run's final mirror into each of two stores, in ms, and its statements'
    times; the first store is the reference, the second the one judged."""

    latencies: dict[str, list[float]]
    timers: dict[str, GraphTimer]

    def p50(self, store: str) -> float:
        return statistics.median(self.latencies[store])

    @property
    def ratio(self) -> float:
        """The second store's p50 over the first's."""
        base, judged = (self.p50(name) for name in self.latencies)
        return judged / base


async def measure(tmp: Path, stored: int, samples: int, warmup: int = 5) -> Growth:
    """Fill one store with `stored` runs, then time a fresh run's final mirror into
    an empty store and into the full one, in turn, `samples` times."""
    async def prepare(stores: dict[str, EmbeddedGraphStore], plan: Plan) -> None:
        took = await fill(stores[f"{stored} runs"], plan, stored)
        print(f"stored {stored} runs ({stored * len(plan.steps)} steps) in {took:.1f} s")

    stores = {"empty": EmbeddedGraphStore(tmp / "empty"),
              f"{stored} runs": EmbeddedGraphStore(tmp / "full")}
    return await compare(tmp, stores, prepare, samples, warmup)


async def measure_grown(tmp: Path, stored: int, samples: int, warmup: int = 5) -> Growth:
    """Grow two stores run by run to `stored` runs and reopen one; then time a
    fresh run's final mirror into each, in turn, `samples` times."""
    async def prepare(stores: dict[str, EmbeddedGraphStore], plan: Plan) -> None:
        # One run a transaction, as the runs it is timed with: a plan is made for
        # the batch it first ran with, too.
        took = await fill(stores["grown here"], plan, stored, batch=1)
        print(f"grew a store to {stored} runs, one at a time, in {took:.1f} s")
        took = await fill(stores["reopened"], plan, stored)
        await stores["reopened"].close()
        stores["reopened"] = EmbeddedGraphStore(tmp / "reopened")
        await stores["reopened"].setup()
        print(f"stored {stored} runs in another in {took:.1f} s, and reopened it")

    stores = {"reopened": EmbeddedGraphStore(tmp / "reopened"),
              "grown here": EmbeddedGraphStore(tmp / "grown")}
    return await compare(tmp, stores, prepare, samples, warmup)


async def measure_neo4j(
    tmp: Path, stored: int, samples: int, warmup: int = 5, warm_runs: int = WARM_RUNS
) -> Growth:
    """Time a fresh run's final mirror into a warmed-up Neo4j, `samples` times,
    then again once `stored` runs more are stored."""
    runtime = await build_runtime(Settings(data_dir=tmp / "planner"))
    try:
        plan = await build_planner(runtime).plan(S1)
        async with neo4j_access(tmp) as access:
            await access.empty()
            store = access.store()
            await store.setup()
            try:
                await store.register_catalogue(runtime.registry.capabilities,
                                               runtime.registry.agents)
                await store.claim_entity(SHARED, "bench", {})
                took = await warm_up(store, plan, warm_runs)
                print(f"warmed Neo4j up with {warm_runs} runs in {took:.1f} s")
                before = f"{warm_runs} runs"
                latencies = {before: await timed(store, plan, "before", samples, warmup)}
                took = await fill(store, plan, stored)
                print(f"stored {stored} runs more in {took:.1f} s")
                after = f"{warm_runs + stored} runs"
                latencies[after] = await timed(store, plan, "after", samples, warmup)
            finally:
                await store.close()
        return Growth(latencies, {})
    finally:
        await runtime.close()


async def timed(
    store: GraphStore, plan: Plan, prefix: str, samples: int, warmup: int
) -> list[float]:
    """Fresh runs' final mirrors into `store`, one at a time: the last `samples` in ms."""
    latencies = []
    for i in range(warmup + samples):
        start = time.perf_counter()
        await store.record_run(final_mirror(plan, f"{prefix}-{i:05d}"))
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies[warmup:]


async def compare(
    tmp: Path,
    stores: dict[str, EmbeddedGraphStore],
    prepare: Callable[[dict[str, EmbeddedGraphStore], Plan], Awaitable[None]],
    samples: int,
    warmup: int,
) -> Growth:
    """Set the stores up, `prepare` them, then time a fresh run's final mirror into
    each in turn (so that both see the same machine); the second is the one judged."""
    runtime = await build_runtime(Settings(data_dir=tmp / "planner"))
    try:
        plan = await build_planner(runtime).plan(S1)
        for store in stores.values():
            await store.setup()
            await store.register_catalogue(runtime.registry.capabilities,
                                           runtime.registry.agents)
            await store.claim_entity(SHARED, "bench", {})
        await prepare(stores, plan)
        growth = Growth({name: [] for name in stores}, {name: GraphTimer() for name in stores})
        for name, store in stores.items():
            growth.timers[name].install(store)
        for i in range(warmup + samples):
            if i == warmup:
                for timer in growth.timers.values():
                    timer.take()
            for name, store in stores.items():
                start = time.perf_counter()
                await store.record_run(final_mirror(plan, f"fresh-{i:05d}"))
                if i >= warmup:
                    growth.latencies[name].append((time.perf_counter() - start) * 1000)
        return growth
    finally:
        for store in stores.values():
            await store.close()
        await runtime.close()


def report(growth: Growth, samples: int) -> None:
    print(f"\none run's final mirror, awaited, {samples} samples each "
          "(p50 / p95 / mean / max ms; a checkpoint shows in the last two):")
    for name, values in growth.latencies.items():
        p95 = sorted(values)[int(0.95 * (len(values) - 1))]
        print(f"  {name:>14}: {growth.p50(name):6.2f} / {p95:6.2f} / "
              f"{statistics.fmean(values):6.2f} / {max(values):6.2f}")
    first, second = growth.latencies
    print(f"  ratio {second}/{first}: x{growth.ratio:.2f}")
    if not growth.timers:  # statements are timed on the embedded store only
        return
    print(f"\nstatements, mean ms ({first} -> {second}):")
    statements = [timer.take().statements for timer in growth.timers.values()]
    for query in sorted(statements[1], key=lambda k: -sum(statements[1][k])):
        small, large = statements[0].get(query, []), statements[1][query]
        before = statistics.fmean(small) * 1000 if small else float("nan")
        print(f"  {query:<30} {before:6.2f} -> {statistics.fmean(large) * 1000:6.2f}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--stored", type=int, default=5000, help="runs in the full store")
    p.add_argument("--samples", type=int, default=40, help="final mirrors timed per store")
    p.add_argument("--warmup", type=int, default=5, help="final mirrors not timed first")
    p.add_argument("--grown", action="store_true",
                   help="compare a store grown here run by run with one reopened")
    p.add_argument("--store", choices=("embedded", "neo4j"), default="embedded")
    p.add_argument("--warm-runs", type=int, default=WARM_RUNS,
                   help="runs a Neo4j is warmed up with before it is timed")
    args = p.parse_args(argv)
    if args.stored < 1 or args.samples < 1 or args.warmup < 0 or args.warm_runs < 0:
        p.error("--stored and --samples must be >= 1, --warmup and --warm-runs >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="graph-growth-") as tmp:
        if args.store == "neo4j":
            growth = asyncio.run(measure_neo4j(Path(tmp), args.stored, args.samples,
                                               args.warmup, args.warm_runs))
        else:
            how = measure_grown if args.grown else measure
            growth = asyncio.run(how(Path(tmp), args.stored, args.samples, args.warmup))
    report(growth, args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
