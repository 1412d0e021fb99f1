"""S1 overhead benchmark: the orchestrator with zero-work agents against a bare
Temporal workflow of the same shape, on one dev server, in one process.

S1 is "Create application ecommerce with payment service, deploy to production with
monitoring and security policies": 6 steps in 4 waves. The orchestrator variant
runs the real runtime (embedded graph in a temporary directory, offline planner,
`OrchestrationWorkflow`, step and graph-mirror activities) with an agent runner
that returns at once. The bare variant is `S1Workflow` from `bench.bare_latency`:
6 no-op activities, 1 -> (2, 3) -> 4 -> (5, 6). Both make 4 activity waves, so
the difference is what the orchestrator adds (plan activity, mirror activities,
graph writes in every step, payload size, workflow-side scheduling).

A third variant, `FeaturedS1Workflow` (bench/featured.py), is the bare shape with
the Temporal features an orchestrator run uses (local activities, patch, search
attributes, summaries, heartbeat timeouts, payloads of the sizes read from an
orchestrator run's history) and none of its work. It splits the ratio in two:
what those features cost Temporal and the worker, and what the orchestrator's
own work (planning, validation, references, the graph) adds on top.

For each variant: ``-n`` runs one after another (the variants interleaved,
run by run) and two bursts of ``-m`` runs started at once (in the order bare,
featured, orchestrator, orchestrator, featured, bare); latency is measured by the client, from start
to result. Prints p50/p95, runs/s and steps/s, the orchestrator/bare
ratios (target: within 1.3x), and where the time goes: server-side durations
from the histories of the sequential runs (with what a stage of steps costs: the
bare workflow's is the Temporal step cost; and the first, middle and last workflow
tasks apart, where the orchestrator plans and mirrors its end), phases from the orchestrator's
`RunResult`, and the time spent in the embedded graph store.

Run from the project root::

    python -m bench.s1_overhead                  # own dev server on a free port
    python -m bench.s1_overhead -n 50 -m 400
    python -m bench.s1_overhead --address 127.0.0.1:7233
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Worker

from bench.bare_latency import S1Workflow, noop, pct
from bench.featured import FeaturedS1Workflow, Sizes, sized, sizes_from
from bench.server import temporal_at
from orchestrator.agents.base import AgentResult, StepContext
from orchestrator.graph import embedded_queries, queries
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import OrchestrationRequest, RunResult, RunStatus, StepStatus
from orchestrator.settings import Settings
from worker.client import connect
from worker.runtime import build_runtime, build_worker, workflow_runner
from worker.runtime import started as worker_started
from workflows.orchestration import OrchestrationWorkflow

S1 = (
    "Create application ecommerce with payment service, deploy to production "
    "with monitoring and security policies"
)
STEPS_PER_RUN = 6
TARGET_RATIO = 1.3
T = TypeVar("T")


# ---------------------------------------------------------------------------
# Zero-work agents
# ---------------------------------------------------------------------------


class ZeroWorkAgents:
    """An `AgentRunner` that does nothing and answers at once.

    The output echoes the parameters and adds what later steps and compensations
    reference: ``output.<produced kind>`` (the entity's name) and ``output.owner``.
    """

    async def run(
        self, capability: str, params: dict[str, Any], ctx: StepContext
    ) -> AgentResult:
        kind = capability.split(".", 1)[0]
        if kind == "deployment":
            name = f"{params['application']}-{params['environment']}"
        elif kind == "policy":
            name = f"{params['policy']}-{params['deployment']}"
        else:
            name = str(params.get("name", params.get(kind, "")))
        return AgentResult(
            output={**params, kind: name, "owner": ctx.owner, "created": True}
        )


# ---------------------------------------------------------------------------
# Graph store timing (wraps the store instance; the store itself is unchanged)
# ---------------------------------------------------------------------------

_QUERY_NAMES = {
    value: name for module in (queries, embedded_queries) for name, value in vars(module).items()
    if name.isupper() and isinstance(value, str)
}


def _label(query: str) -> str:
    return _QUERY_NAMES.get(query) or " ".join(query.split()[:2])


@dataclass
class GraphTimer:
    """Time of every Cypher statement (on the graph thread) and of every store call
    as the event loop sees it (executor queue wait included)."""

    statements: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    calls: list[float] = field(default_factory=list)

    def install(self, store: EmbeddedGraphStore) -> None:
        execute = store._exec
        call = store._call

        def timed_exec(query: str, **params: Any) -> list[list[Any]]:
            start = time.perf_counter()
            try:
                return execute(query, **params)
            finally:
                self.statements[_label(query)].append(time.perf_counter() - start)

        async def timed_call(fn: Callable[[], T]) -> T:
            start = time.perf_counter()
            try:
                return await call(fn)
            finally:
                self.calls.append(time.perf_counter() - start)

        setattr(store, "_exec", timed_exec)  # noqa: B010 - instance override on purpose
        setattr(store, "_call", timed_call)  # noqa: B010

    def take(self) -> GraphTimer:
        """What was timed so far; starts afresh."""
        taken = GraphTimer(self.statements, self.calls)
        self.statements, self.calls = defaultdict(list), []
        return taken

    @property
    def busy_s(self) -> float:
        return sum(sum(v) for v in self.statements.values())


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


@dataclass
class Phase:
    latencies_ms: list[float] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    # Wall time of each burst of runs started at once.
    walls_s: list[float] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return sum(self.walls_s) if self.walls_s else float("nan")

    @property
    def runs_per_s(self) -> float:
        return len(self.latencies_ms) / self.wall_s

    def burst_rates(self, runs: int) -> list[float]:
        return [runs / wall for wall in self.walls_s]


@dataclass
class Variant:
    name: str
    task_queue: str
    seq: Phase = field(default_factory=Phase)
    conc: Phase = field(default_factory=Phase)
    results: dict[str, RunResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    timeout_s: float = 300.0


async def timed(run: Callable[[str], Awaitable[None]], variant: Variant, phase: Phase) -> None:
    """One run, timed by the client; a run that raises or times out is an error."""
    run_id = f"{variant.name}-{uuid.uuid4().hex}"
    start = time.perf_counter()
    try:
        await asyncio.wait_for(run(run_id), variant.timeout_s)
    except TimeoutError:
        variant.errors.append(f"{run_id}: no result within {variant.timeout_s:.0f} s")
        return
    except Exception as err:
        variant.errors.append(f"{run_id}: {type(err).__name__}: {err}")
        return
    phase.latencies_ms.append((time.perf_counter() - start) * 1000)
    phase.ids.append(run_id)


def bare_runner(client: Client, variant: Variant) -> Callable[[str], Awaitable[None]]:
    async def run(run_id: str) -> None:
        await client.execute_workflow(S1Workflow.run, id=run_id, task_queue=variant.task_queue)

    return run


def featured_runner(
    client: Client, variant: Variant, sizes: Sizes
) -> Callable[[str], Awaitable[None]]:
    async def run(run_id: str) -> None:
        await client.execute_workflow(
            FeaturedS1Workflow.run, sizes, id=run_id, task_queue=variant.task_queue
        )

    return run


def orch_runner(client: Client, variant: Variant) -> Callable[[str], Awaitable[None]]:
    async def run(run_id: str) -> None:
        variant.results[run_id] = await client.execute_workflow(
            OrchestrationWorkflow.run, OrchestrationRequest(message=S1),
            id=run_id, task_queue=variant.task_queue,
        )

    return run


async def concurrently(
    run: Callable[[str], Awaitable[None]], variant: Variant, count: int
) -> None:
    phase = variant.conc
    start = time.perf_counter()
    await asyncio.gather(*(timed(run, variant, phase) for _ in range(count)))
    phase.walls_s.append(time.perf_counter() - start)


def failures(variant: Variant) -> list[str]:
    """Runs that raised or timed out, and orchestrator runs that did not complete."""
    bad = list(variant.errors)
    for run_id, result in variant.results.items():
        steps = [s for s in result.steps.values() if s.status == StepStatus.COMPLETED]
        if result.status != RunStatus.COMPLETED or len(steps) != STEPS_PER_RUN:
            problem = result.problem.message if result.problem else ""
            bad.append(f"{run_id}: {result.status.value}, {len(steps)} steps completed {problem}")
    return bad


@dataclass
class Breakdown:
    """Server-side durations from workflow histories, in ms, summed over runs."""

    runs: int = 0
    run_ms: list[float] = field(default_factory=list)
    queue_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    exec_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # What one stage of steps costs: from its activities being scheduled to the
    # next stage's (the Temporal step cost, for the bare workflow).
    stage_ms: list[float] = field(default_factory=list)
    # Each run's workflow tasks (started -> completed) by place: the first (it
    # plans, in the orchestrator), those between, and the last (its final mirror).
    first_task_ms: list[float] = field(default_factory=list)
    middle_task_ms: list[float] = field(default_factory=list)
    last_task_ms: list[float] = field(default_factory=list)

    def add(self, history: WorkflowHistory) -> None:
        self.runs += 1
        names: dict[int, str] = {}
        scheduled: dict[int, float] = {}
        started: dict[int, float] = {}
        # When each workflow task that scheduled activities had them scheduled.
        stages: dict[int, float] = {}
        first = last = 0.0
        tasks: list[float] = []
        for event in history.events:
            at = event.event_time.ToNanoseconds() / 1e6
            kind = event.event_type
            if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                first = at
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                last = at
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                names[event.event_id], scheduled[event.event_id] = "workflow task", at
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                attrs = event.activity_task_scheduled_event_attributes
                names[event.event_id] = f"activity {attrs.activity_type.name}"
                scheduled[event.event_id] = at
                stages.setdefault(attrs.workflow_task_completed_event_id, at)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                self._started(event.workflow_task_started_event_attributes.scheduled_event_id,
                              at, names, scheduled, started)
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                self._started(event.activity_task_started_event_attributes.scheduled_event_id,
                              at, names, scheduled, started)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                sid = event.workflow_task_completed_event_attributes.scheduled_event_id
                self.exec_ms[names[sid]].append(at - started[sid])
                tasks.append(at - started[sid])
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                sid = event.activity_task_completed_event_attributes.scheduled_event_id
                self.exec_ms[names[sid]].append(at - started[sid])
        self.run_ms.append(last - first)
        if len(tasks) >= 2:
            self.first_task_ms.append(tasks[0])
            self.middle_task_ms += tasks[1:-1]
            self.last_task_ms.append(tasks[-1])
        starts = sorted(stages.values())
        self.stage_ms += [b - a for a, b in itertools.pairwise(starts)]

    def _started(
        self, sid: int, at: float, names: dict[int, str], scheduled: dict[int, float],
        started: dict[int, float],
    ) -> None:
        started[sid] = at
        self.queue_ms[names[sid]].append(at - scheduled[sid])


async def breakdown(client: Client, ids: Sequence[str]) -> Breakdown:
    result = Breakdown()
    histories = await asyncio.gather(
        *(client.get_workflow_handle(i).fetch_history() for i in ids)
    )
    for history in histories:
        result.add(history)
    return result


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _ms(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        return float("nan")
    return (end - start).total_seconds() * 1000


def run_phases(results: Sequence[RunResult]) -> dict[str, float]:
    """Mean ms of the phases of an orchestrator run, from its RunResult timestamps."""
    plan, steps, finish, step_body = [], [], [], []
    for r in results:
        starts = [s.started_at for s in r.steps.values() if s.started_at]
        ends = [s.finished_at for s in r.steps.values() if s.finished_at]
        if not starts or not ends:
            continue
        plan.append(_ms(r.started_at, min(starts)))
        steps.append(_ms(min(starts), max(ends)))
        finish.append(_ms(max(ends), r.finished_at))
        step_body += [_ms(s.started_at, s.finished_at) for s in r.steps.values()]
    return {
        "start -> first step starts (1st WFT, plan activity, WFT, dispatch)": _mean(plan),
        "first step starts -> last step ends (4 waves)": _mean(steps),
        "last step ends -> RunResult.finished_at (WFT)": _mean(finish),
        "one step activity body (2 record_step + agent)": _mean(step_body),
    }


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def table(bare: Variant, featured: Variant, orch: Variant, runs: int) -> None:
    head = (f"{'variant':<14}{'seq p50':>10}{'seq p95':>10}{'seq mean':>10}"
            f"{'conc runs/s':>13}{'conc steps/s':>14}{'conc p50':>10}{'conc p95':>10}")
    print("\n" + head)
    print("-" * len(head))
    for v in (bare, featured, orch):
        s, c = v.seq.latencies_ms, v.conc
        print(
            f"{v.name:<14}{pct(s, 0.5):8.1f}ms{pct(s, 0.95):8.1f}ms{_mean(s):8.1f}ms"
            f"{c.runs_per_s:13.1f}{c.runs_per_s * STEPS_PER_RUN:14.1f}"
            f"{pct(c.latencies_ms, 0.5):8.0f}ms{pct(c.latencies_ms, 0.95):8.0f}ms"
        )
    seq_ratio = pct(orch.seq.latencies_ms, 0.5) / pct(bare.seq.latencies_ms, 0.5)
    p95_ratio = pct(orch.seq.latencies_ms, 0.95) / pct(bare.seq.latencies_ms, 0.95)
    conc_ratio = bare.conc.runs_per_s / (orch.conc.runs_per_s or float("nan"))

    def verdict(ratio: float) -> str:
        return "within target" if ratio <= TARGET_RATIO else "ABOVE target"

    print(f"\nratio seq p50  orch/bare      x{seq_ratio:.2f}  ({verdict(seq_ratio)} "
          f"x{TARGET_RATIO}; p95 x{p95_ratio:.2f})")
    print(f"ratio runs/s   bare/orch      x{conc_ratio:.2f}  ({verdict(conc_ratio)} "
          f"x{TARGET_RATIO})")
    print("split of the ratios (seq p50 | runs/s):")
    for label, low, high in (("featured/bare  (Temporal features alone)", bare, featured),
                             ("orch/featured  (the orchestrator's own work)", featured, orch)):
        seq = pct(high.seq.latencies_ms, 0.5) / pct(low.seq.latencies_ms, 0.5)
        conc = low.conc.runs_per_s / (high.conc.runs_per_s or float("nan"))
        print(f"  {label:<46} x{seq:.2f} | x{conc:.2f}")
    rates = {v.name: v.conc.burst_rates(runs) for v in (bare, featured, orch)}
    order = [rates["bare"][0], rates["featured"][0], rates["orchestrator"][0],
             rates["orchestrator"][1], rates["featured"][1], rates["bare"][1]]
    print("runs/s of each burst, in the order run (bare, featured, orch, orch, featured, "
          "bare): " + ", ".join(f"{rate:.1f}" for rate in order))


def print_breakdowns(rows: Sequence[tuple[str, Breakdown, list[float]]]) -> None:
    print("\nserver-side, sequential runs (means; per-run count; queue = scheduled -> "
          "started, exec = started -> completed)")
    for name, b, lat in rows:
        run = _mean(b.run_ms)
        print(f"  {name}: run in history {run:.1f} ms, client start->result "
              f"{_mean(lat):.1f} ms (client/RPC overhead {_mean(lat) - run:.1f} ms)")
        for task in sorted(b.exec_ms):
            n = len(b.exec_ms[task]) / max(b.runs, 1)
            q, e = _mean(b.queue_ms[task]), _mean(b.exec_ms[task])
            print(f"    {task:<28} x{n:<4.1f} queue {q:6.2f} ms  exec {e:6.2f} ms  "
                  f"(sum/run {n * (q + e):6.1f} ms)")
        if b.stage_ms:
            print(f"    a stage of steps, its activities scheduled -> the next stage's: p50 "
                  f"{statistics.median(b.stage_ms):.2f} ms (x{len(b.stage_ms) / b.runs:.1f})")
        if b.first_task_ms:
            print(f"    workflow tasks, p50: first {_median(b.first_task_ms):.2f} ms, "
                  f"between {_median(b.middle_task_ms):.2f} ms, "
                  f"last {_median(b.last_task_ms):.2f} ms")


def print_graph(timer: GraphTimer, runs: int, label: str, wall_s: float | None = None) -> None:
    total = timer.busy_s
    line = (f"\nembedded graph, {label}: {total * 1000 / max(runs, 1):.1f} ms of statements "
            f"per run")
    if wall_s:
        line += f", graph thread busy {total / wall_s:.0%} of the wall time"
    calls = timer.calls
    if calls:
        line += (f"; store calls {len(calls) / max(runs, 1):.0f}/run, mean "
                 f"{_mean(calls) * 1000:.2f} ms as awaited (queue wait included)")
    print(line)
    for name, values in sorted(timer.statements.items(), key=lambda kv: -sum(kv[1])):
        per_run = sum(values) * 1000 / max(runs, 1)
        print(f"    {name:<22} x{len(values) / max(runs, 1):<5.1f} mean "
              f"{_mean(values) * 1000:6.2f} ms  sum/run {per_run:6.2f} ms")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("-n", "--sequential", type=int, default=30, help="runs one after another")
    p.add_argument("-m", "--concurrent", type=int, default=200, help="runs started at once")
    p.add_argument("--warmup", type=int, default=5, help="unmeasured sequential runs first")
    p.add_argument("--address", help="use this Temporal server instead of a new dev server")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds a run may take before it counts as failed (default 300)")
    p.add_argument("--mirror", choices=("on", "off"), default="on",
                   help="off: the run-level and step mirror writes do nothing, to isolate their "
                        "cost\n(the planner still reads the graph)")
    p.add_argument("--sandbox", choices=("on", "off"), default="on",
                   help="run both variants' workflows in Temporal's sandbox (the default) or not")
    args = p.parse_args(argv)
    if args.sequential < 1 or args.concurrent < 1 or args.warmup < 0 or args.timeout <= 0:
        p.error("-n and -m must be >= 1, --warmup >= 0, --timeout > 0")
    return args


async def wait_for_namespace(client: Client, wait_s: float = 30.0) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=client.namespace)
            )
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def bench(address: str, args: argparse.Namespace, data_dir: Path) -> None:
    settings = Settings(temporal_address=address, data_dir=data_dir,
                        task_queue=f"bench-orch-{uuid.uuid4().hex[:8]}",
                        workflow_sandbox=args.sandbox == "on")
    client = await connect(settings)
    await wait_for_namespace(client)
    runtime = await build_runtime(settings)
    runtime.agents = ZeroWorkAgents()
    timer = GraphTimer()
    if isinstance(runtime.store, EmbeddedGraphStore):
        timer.install(runtime.store)
    bare = Variant("bare", f"bench-bare-{uuid.uuid4().hex[:8]}", timeout_s=args.timeout)
    featured = Variant("featured", f"bench-featured-{uuid.uuid4().hex[:8]}",
                       timeout_s=args.timeout)
    orch = Variant("orchestrator", settings.task_queue, timeout_s=args.timeout)
    if args.mirror == "off":
        async def skip(_records: object) -> None:
            return None

        setattr(runtime.store, "record_run", skip)  # noqa: B010 - instance override on purpose
        setattr(runtime.store, "record_steps", skip)  # noqa: B010
        setattr(runtime.store, "hand_over_run", lambda _record: True)  # noqa: B010 - dropped
    run_bare, run_orch = bare_runner(client, bare), orch_runner(client, orch)
    runner = workflow_runner(args.sandbox == "on", client.data_converter)
    try:
        async with (
            Worker(client, task_queue=bare.task_queue, workflows=[S1Workflow], activities=[noop],
                   workflow_runner=runner),
            Worker(client, task_queue=featured.task_queue, workflows=[FeaturedS1Workflow],
                   activities=[sized], workflow_runner=runner),
            build_worker(client, runtime),
        ):
            worker_started()  # as a worker process does once it is up
            warm = Phase()
            for _ in range(max(args.warmup, 1)):
                await timed(run_orch, orch, warm)
            sizes = sizes_from(await client.get_workflow_handle(warm.ids[0]).fetch_history())
            print(f"orchestrator payload sizes (bytes), for the featured variant: {sizes}")
            run_featured = featured_runner(client, featured, sizes)
            for _ in range(args.warmup):
                await timed(run_bare, bare, warm)
                await timed(run_featured, featured, warm)
            timer.take()
            # Interleaved, so the variants see the same server state.
            for _ in range(args.sequential):
                await timed(run_bare, bare, bare.seq)
                await timed(run_featured, featured, featured.seq)
                await timed(run_orch, orch, orch.seq)
            seq_graph = timer.take()
            # Each burst leaves the server and the worker with more history than the
            # one before, and the later burst runs slower: in the order bare,
            # orchestrator the ratio came out x1.8, in the other order x1.45. Two
            # bursts each, in mirrored order, cancel a steady drift.
            await concurrently(run_bare, bare, args.concurrent)
            await concurrently(run_featured, featured, args.concurrent)
            await concurrently(run_orch, orch, args.concurrent)
            await concurrently(run_orch, orch, args.concurrent)
            conc_graph = timer.take()
            await concurrently(run_featured, featured, args.concurrent)
            await concurrently(run_bare, bare, args.concurrent)
        bad = failures(bare) + failures(featured) + failures(orch)
        if not bad:
            print(f"all {len(orch.results)} orchestrator runs completed "
                  f"({STEPS_PER_RUN} steps each)")
        table(bare, featured, orch, args.concurrent)
        histories = await asyncio.gather(
            *(breakdown(client, v.seq.ids) for v in (bare, featured, orch))
        )
        print_breakdowns([(v.name, h, v.seq.latencies_ms)
                          for v, h in zip((bare, featured, orch), histories, strict=True)])
        print("\norchestrator phases, sequential runs (RunResult timestamps, means)")
        seq_results = [orch.results[i] for i in orch.seq.ids]
        for name, value in run_phases(seq_results).items():
            print(f"    {name:<70} {value:6.1f} ms")
        print_graph(seq_graph, len(orch.seq.ids), "sequential")
        print_graph(conc_graph, len(orch.conc.ids), "concurrent", orch.conc.wall_s)
        if bad:
            raise SystemExit(
                f"\nFAILED: {len(bad)} run(s) did not complete (figures above include only "
                "the runs that returned):\n  " + "\n  ".join(bad[:20])
            )
    finally:
        await runtime.close()


async def amain(args: argparse.Namespace) -> int:
    print(f"S1 overhead: warmup {args.warmup}, sequential {args.sequential}, "
          f"concurrent {args.concurrent}; workers in-process")
    async with temporal_at(args.address) as address:
        with tempfile.TemporaryDirectory(prefix="s1-bench-") as tmp:
            await bench(address, args, Path(tmp))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # The sandbox imports each workflow's module afresh for every run; where the
    # environment turns bytecode caching off (PYTHONDONTWRITEBYTECODE), every one
    # of those imports compiles the source again (~2-5 ms a run, more for the
    # larger module). That is the machine's setting, not either variant's cost:
    # cache bytecode as Python does by default.
    sys.dont_write_bytecode = False
    return asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
