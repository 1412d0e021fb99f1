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

Run from the project root::

    python -m bench.graph_growth                       # 5,000 runs stored
    python -m bench.graph_growth --stored 20000 --samples 60
    python -m bench.graph_growth --grown --stored 3000
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

from bench.s1_overhead import S1, GraphTimer
from orchestrator.graph.embedded import EmbeddedGraphStore
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
    store: EmbeddedGraphStore, plan: Plan, runs: int, batch: int = FILL_BATCH
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
    args = p.parse_args(argv)
    if args.stored < 1 or args.samples < 1 or args.warmup < 0:
        p.error("--stored and --samples must be >= 1, --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="graph-growth-") as tmp:
        how = measure_grown if args.grown else measure
        growth = asyncio.run(how(Path(tmp), args.stored, args.samples, args.warmup))
    report(growth, args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
