"""Mirror cost: what mirroring runs into the graph adds to S1, embedded and on Neo4j,
and how fast the batched step writes go into each store.

1. S1 latency, three variants on one dev server, each with its own worker (runtime,
   task queue and graph) in this process and zero-work agents
   (`bench.s1_overhead.ZeroWorkAgents`):

   - ``embedded``: mirroring into the embedded graph (a temporary directory);
   - ``neo4j``: mirroring into Neo4j; the planner reads Neo4j too (entity lookups,
     agents' statistics), as a worker configured for Neo4j does;
   - ``off``: the store's ``record_run`` and ``record_steps`` do nothing; the planner
     still reads an embedded graph of its own.

   Neo4j is first put through ``--neo4j-warmup`` runs' mirroring (``bench.neo4j_warmup``):
   a fresh JVM spends several times the CPU per run that a warm one does. Then
   ``--warmup`` unmeasured runs of each, then ``-n`` measured runs of each, one after
   another, variant by variant (the order rotates every round), so all see the same
   machine state. Latency is the client's, from start to result. Prints p50/p95 and
   the ratios embedded/off and neo4j/off (target: Neo4j mirroring adds at most 20%),
   and the store's calls as their callers awaited them: the planner's reads and the
   mirror's writes.

2. Batched write throughput: step records (completed, with an output and the entity
   the step operates on: one state row and one ``OPERATES_ON`` row each) written
   through the store's own batched path, ``record_steps`` with N records per call,
   one call at a time, into steps that ``record_run`` planned beforehand (fresh steps
   for every batch size). Rows/s at batch sizes 1, 100 and 1000, on Neo4j and on the
   embedded store.

Neo4j is one started from the project's launcher (a free port, a temporary
directory), or the one at NEO4J_URI (with NEO4J_PASSWORD, and NEO4J_USER and
NEO4J_DATABASE if not the defaults): its database is EMPTIED at the start of each
part.

Run from the project root::

    python -m bench.mirror_cost                 # own dev server and Neo4j
    python -m bench.mirror_cost -n 50 --rows 10000
    python -m bench.mirror_cost --address 127.0.0.1:7233
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from neo4j import AsyncGraphDatabase
from pydantic import SecretStr
from temporalio.client import Client

from bench.bare_latency import pct
from bench.neo4j_warmup import PREFIX, warm_up
from bench.s1_overhead import (
    S1,
    STEPS_PER_RUN,
    Phase,
    Variant,
    ZeroWorkAgents,
    failures,
    orch_runner,
    timed,
    wait_for_namespace,
)
from bench.server import temporal_at
from orchestrator.devserver import free_port
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.neo4j_server import Neo4jServer
from orchestrator.graph.neo4j_store import Neo4jGraphStore
from orchestrator.graph.store import EntityRecord, GraphStore
from orchestrator.models import (
    AgentStats,
    EntityRef,
    Plan,
    RunRecord,
    RunStatus,
    Step,
    StepRecord,
    StepStatus,
)
from orchestrator.settings import Settings
from worker.client import connect
from worker.runtime import Runtime, build_planner, build_runtime, build_worker
from worker.runtime import started as worker_started

TARGET_RATIO = 1.2
BATCH_SIZES = (1, 100, 1000)
STEPS_PER_PLAN = 100
# Not in the store's queries: no code of the orchestrator ever empties a graph.
DELETE_EVERYTHING = "MATCH (n) DETACH DELETE n"


# ---------------------------------------------------------------------------
# Neo4j
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Neo4jAccess:
    uri: str
    user: str
    password: str
    database: str = "neo4j"

    def store(self) -> Neo4jGraphStore:
        return Neo4jGraphStore(self.uri, self.user, self.password, self.database)

    async def empty(self) -> None:
        async with AsyncGraphDatabase.driver(self.uri, auth=(self.user, self.password)) as d:
            await d.execute_query(DELETE_EVERYTHING, database_=self.database)


@asynccontextmanager
async def neo4j_access(tmp: Path) -> AsyncIterator[Neo4jAccess]:
    """The Neo4j at NEO4J_URI if set, else one started from the launcher for the run."""
    if uri := os.environ.get("NEO4J_URI"):
        password = os.environ.get("NEO4J_PASSWORD")
        if not password:
            raise SystemExit("NEO4J_URI is set but NEO4J_PASSWORD is not")
        print(f"Neo4j at {uri} (its database is emptied)")
        yield Neo4jAccess(uri, os.environ.get("NEO4J_USER", "neo4j"), password,
                          os.environ.get("NEO4J_DATABASE", "neo4j"))
        return
    started = time.perf_counter()
    server = Neo4jServer(free_port(), tmp / "neo4j", secrets.token_urlsafe(16))
    await server.start()
    print(f"Neo4j at {server.uri}, started in {time.perf_counter() - started:.1f} s")
    try:
        yield Neo4jAccess(server.uri, server.user, server.password)
    finally:
        await server.stop()


# ---------------------------------------------------------------------------
# Part 1: S1 with mirroring embedded, on Neo4j, off
# ---------------------------------------------------------------------------


@dataclass
class StoreTimes:
    """The store's calls as their callers awaited them, in ms: the planner's reads
    (entity lookups, agents' statistics; on the run's path) and the mirror's writes
    (group-commit wait included): the plan's write-behind record, step batches
    (write-behind) and the run's final mirror (on the run's path)."""

    ms: dict[str, list[float]] = field(
        default_factory=lambda: {"reads": [], "plan": [], "steps": [], "final": []}
    )

    def install(self, store: GraphStore, writes: bool) -> None:
        get_entity, agent_stats = store.get_entity, store.agent_stats
        record_run, record_steps = store.record_run, store.record_steps

        async def timed_get_entity(ref: EntityRef) -> EntityRecord | None:
            with self.timing("reads"):
                return await get_entity(ref)

        async def timed_agent_stats() -> dict[str, AgentStats]:
            with self.timing("reads"):
                return await agent_stats()

        async def timed_run(record: RunRecord) -> None:
            with self.timing("plan" if record.plan is not None and not record.steps
                             else "final"):
                await record_run(record)

        async def timed_steps(records: list[StepRecord]) -> None:
            with self.timing("steps"):
                await record_steps(records)

        setattr(store, "get_entity", timed_get_entity)  # noqa: B010 - instance override
        setattr(store, "agent_stats", timed_agent_stats)  # noqa: B010
        if writes:
            setattr(store, "record_run", timed_run)  # noqa: B010
            setattr(store, "record_steps", timed_steps)  # noqa: B010

    @contextmanager
    def timing(self, kind: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[kind].append((time.perf_counter() - start) * 1000)

    def reset(self) -> None:
        for values in self.ms.values():
            values.clear()


def mirror_off(store: GraphStore) -> None:
    """The run-level and step mirror writes do nothing; reads are untouched."""

    async def skip(_records: object) -> None:
        return None

    setattr(store, "record_run", skip)  # noqa: B010 - instance override on purpose
    setattr(store, "record_steps", skip)  # noqa: B010


@dataclass
class Arm:
    variant: Variant
    runtime: Runtime
    times: StoreTimes
    run: Callable[[str], Awaitable[None]]


async def s1_arms(
    client: Client, address: str, tmp: Path, neo4j: Neo4jAccess, timeout_s: float,
) -> list[Arm]:
    arms: list[Arm] = []
    for name in ("embedded", "neo4j", "off"):
        settings = Settings(
            temporal_address=address, data_dir=tmp / name,
            task_queue=f"bench-mirror-{name}-{uuid.uuid4().hex[:8]}",
            # Explicit, whatever ORCHESTRATOR_* says: the offline planner, this graph.
            graph_backend="neo4j" if name == "neo4j" else "embedded",
            neo4j_uri=neo4j.uri, neo4j_user=neo4j.user,
            neo4j_password=SecretStr(neo4j.password), neo4j_database=neo4j.database,
            openai_api_key=None, openai_base_url=None,
        )
        runtime = await build_runtime(settings)
        runtime.agents = ZeroWorkAgents()
        times = StoreTimes()
        times.install(runtime.store, writes=name != "off")
        if name == "off":
            mirror_off(runtime.store)
        variant = Variant(name, settings.task_queue, timeout_s=timeout_s)
        arms.append(Arm(variant, runtime, times, orch_runner(client, variant)))
    return arms


async def s1_part(
    client: Client, address: str, tmp: Path, neo4j: Neo4jAccess, args: argparse.Namespace,
) -> None:
    await neo4j.empty()
    arms = await s1_arms(client, address, tmp, neo4j, args.timeout)
    try:
        if args.neo4j_warmup:
            runtime = next(arm.runtime for arm in arms if arm.variant.name == "neo4j")
            plan = await build_planner(runtime).plan(S1)
            took = await warm_up(runtime.store, plan, args.neo4j_warmup)
            print(f"Neo4j warmed up with {args.neo4j_warmup} runs' mirroring (workflows "
                  f"{PREFIX}*, left in its graph) in {took:.1f} s")
        async with AsyncExitStack() as workers:
            for arm in arms:
                await workers.enter_async_context(build_worker(client, arm.runtime))
            worker_started()  # as a worker process does once it is up
            started = time.perf_counter()
            warm = Phase()
            for i in range(args.warmup):
                for arm in rotated(arms, i):
                    await timed(arm.run, arm.variant, warm)
            for arm in arms:
                await arm.runtime.mirror.flush()
                arm.times.reset()
            for i in range(args.sequential):
                for arm in rotated(arms, i):
                    await timed(arm.run, arm.variant, arm.variant.seq)
            for arm in arms:
                await arm.runtime.mirror.flush()
            wall = time.perf_counter() - started
        workflows = {arm.variant.name: (await arm.runtime.store.counts()).get("Workflow", 0)
                     for arm in arms}
    finally:
        for arm in arms:
            await arm.runtime.close()
    s1_report(arms, args, wall, workflows)


def rotated(arms: list[Arm], i: int) -> list[Arm]:
    k = i % len(arms)
    return arms[k:] + arms[:k]


def s1_report(arms: list[Arm], args: argparse.Namespace, wall_s: float,
              workflows: dict[str, int]) -> None:
    variants = [arm.variant for arm in arms]
    print(f"\n1. S1 end-to-end latency, zero-work agents: {args.sequential} runs of each "
          f"variant one after another, interleaved (after {args.warmup} warm-up runs each), "
          f"{wall_s:.1f} s")
    print("   latency = client start -> result; Workflow nodes = what the variant's graph holds "
          "(all runs, warm-up included)")
    head = (f"   {'variant':<10}{'p50':>10}{'p95':>10}{'mean':>10}{'min':>10}{'max':>10}"
            f"{'runs':>6}{'Workflow nodes':>16}")
    print(head)
    print("   " + "-" * (len(head) - 3))
    for v in variants:
        lat = v.seq.latencies_ms
        mean = statistics.fmean(lat) if lat else float("nan")
        print(f"   {v.name:<10}{pct(lat, 0.5):8.1f}ms{pct(lat, 0.95):8.1f}ms{mean:8.1f}ms"
              f"{min(lat, default=float('nan')):8.1f}ms{max(lat, default=float('nan')):8.1f}ms"
              f"{len(lat):6d}{workflows.get(v.name, 0):16d}")
    by = {v.name: v.seq.latencies_ms for v in variants}
    off50, off95 = pct(by["off"], 0.5), pct(by["off"], 0.95)
    print()
    for name in ("embedded", "neo4j"):
        r50, r95 = pct(by[name], 0.5) / off50, pct(by[name], 0.95) / off95
        line = f"   ratio {name + '/off':<13} p50 x{r50:.2f}  p95 x{r95:.2f}"
        if name == "neo4j":
            verdict = "within" if r50 <= TARGET_RATIO else "ABOVE"
            line += (f"   target: Neo4j mirroring adds at most {TARGET_RATIO - 1:.0%} "
                     f"(p50 x{TARGET_RATIO}): {verdict} target")
        print(line)
    print("\n   store calls, measured runs: count per run, mean ms as awaited (group-commit "
          "wait included); reads and the final mirror are on the run's path, plan and "
          "steps are write-behind")
    for arm in arms:
        runs = max(len(arm.variant.seq.latencies_ms), 1)
        parts = []
        for kind, values in arm.times.ms.items():
            if values:
                parts.append(f"{kind} x{len(values) / runs:.1f} {statistics.fmean(values):6.2f}")
        print(f"   {arm.variant.name:<10}" + "   ".join(parts))
    bad = [line for v in variants for line in failures(v)]
    if bad:
        print(f"\n   {len(bad)} run(s) did not complete (figures include only the runs that "
              "returned):\n     " + "\n     ".join(bad[:20]))
    else:
        print(f"\n   all {sum(len(v.results) for v in variants)} runs completed "
              f"({STEPS_PER_RUN} steps each)")


# ---------------------------------------------------------------------------
# Part 2: batched step writes
# ---------------------------------------------------------------------------

AGENT = "service-agent"
CAPABILITY = "service.create"


async def planned_steps(store: GraphStore, tag: str, rows: int) -> list[StepRecord]:
    """`rows` steps planned by `record_run` in runs of up to 100 steps, each run's steps
    operating on one entity of the run's own; their completed records, unwritten."""
    records: list[StepRecord] = []
    for i in range((rows + STEPS_PER_PLAN - 1) // STEPS_PER_PLAN):
        wf = f"{tag}-{i}"
        entity = EntityRef(kind="service", name=f"{tag}-svc-{i}")
        await store.claim_entity(entity, f"{wf}/s0", {"application": "ecommerce"})
        count = min(STEPS_PER_PLAN, rows - i * STEPS_PER_PLAN)
        steps = [Step(id=f"s{j}", capability=CAPABILITY, agent=AGENT) for j in range(count)]
        await store.record_run(RunRecord(
            workflow_id=wf, request="bench", status=RunStatus.RUNNING,
            plan=Plan(intent="bench", request="bench", steps=steps),
        ))
        records += [
            StepRecord(
                workflow_id=wf, step_id=s.id, capability=CAPABILITY, agent=AGENT,
                status=StepStatus.COMPLETED, attempt=1, operates_on=[entity],
                output={"application": "ecommerce", "name": entity.name,
                        "service": entity.name, "owner": f"{wf}/{s.id}", "created": True},
            )
            for s in steps
        ]
    return records


@dataclass
class Throughput:
    store: str
    batch: int
    rows: int
    seconds: float
    call_ms: list[float]

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


async def write_batches(store: GraphStore, records: list[StepRecord], batch: int
                        ) -> tuple[float, list[float]]:
    calls: list[float] = []
    start = time.perf_counter()
    for k in range(0, len(records), batch):
        before = time.perf_counter()
        await store.record_steps(records[k:k + batch])
        calls.append((time.perf_counter() - before) * 1000)
    return time.perf_counter() - start, calls


async def store_throughput(
    name: str, store: GraphStore, rows: int, single_rows: int
) -> tuple[list[Throughput], int]:
    """Rows/s per batch size; and the OPERATES_ON edges in the graph afterwards."""
    await store.setup()
    try:
        tag = f"tp-{uuid.uuid4().hex[:6]}"
        # Warm-up: the statements compiled (and, on Neo4j, the JIT warmed) at both ends.
        warm = await planned_steps(store, f"{tag}-warm", 300)
        await write_batches(store, warm[:100], 1)
        await write_batches(store, warm[100:], 100)
        results = []
        for batch in BATCH_SIZES:
            total = single_rows if batch == 1 else rows
            # Fresh steps for each batch size: every row is a write the graph has not seen.
            records = await planned_steps(store, f"{tag}-b{batch}", total)
            seconds, calls = await write_batches(store, records, batch)
            results.append(Throughput(name, batch, total, seconds, calls))
        edges = (await store.counts()).get("OPERATES_ON", 0)
        return results, edges
    finally:
        await store.close()


async def throughput_part(tmp: Path, neo4j: Neo4jAccess, args: argparse.Namespace) -> None:
    await neo4j.empty()
    started = time.perf_counter()
    expected = 300 + args.single_rows + args.rows * (len(BATCH_SIZES) - 1)
    measured: list[Throughput] = []
    edges: dict[str, int] = {}
    for name, store in (
        ("neo4j", neo4j.store()),
        ("embedded", EmbeddedGraphStore(tmp / "throughput" / "graph.lbug")),
    ):
        results, edges[name] = await store_throughput(name, store, args.rows, args.single_rows)
        measured += results
    print(f"\n2. batched step writes: record_steps with N step records per call, one call at "
          f"a time ({time.perf_counter() - started:.1f} s)")
    print("   a row = one step's record: its state (status, attempt, output JSON) and its "
          "OPERATES_ON edge")
    head = (f"   {'store':<10}{'batch':>7}{'rows':>8}{'calls':>7}{'seconds':>9}{'rows/s':>10}"
            f"{'ms/call p50':>13}{'p95':>9}")
    print(head)
    print("   " + "-" * (len(head) - 3))
    for t in measured:
        print(f"   {t.store:<10}{t.batch:7d}{t.rows:8d}{len(t.call_ms):7d}{t.seconds:9.2f}"
              f"{t.rows_per_s:10.0f}{pct(t.call_ms, 0.5):13.2f}{pct(t.call_ms, 0.95):9.2f}")
    for name, count in edges.items():
        check = "as expected" if count == expected else f"EXPECTED {expected}"
        print(f"   {name}: {count} OPERATES_ON edges in the graph afterwards ({check})")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


async def bench(address: str, args: argparse.Namespace, tmp: Path) -> None:
    client = await connect(Settings(temporal_address=address))
    await wait_for_namespace(client)
    async with neo4j_access(tmp) as neo4j:
        if not args.skip_s1:
            await s1_part(client, address, tmp, neo4j, args)
        if not args.skip_throughput:
            await throughput_part(tmp, neo4j, args)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("-n", "--sequential", type=int, default=30,
                   help="measured S1 runs of each variant (default 30)")
    p.add_argument("--warmup", type=int, default=5,
                   help="unmeasured S1 runs of each variant first (default 5)")
    p.add_argument("--neo4j-warmup", type=int, default=3000,
                   help="runs' mirroring sent straight to Neo4j before part 1, so that it is\n"
                        "measured warm, as a server in use is (default 3000; 0: none)")
    p.add_argument("--rows", type=int, default=5000,
                   help="rows written at batch sizes 100 and 1000 (default 5000)")
    p.add_argument("--single-rows", type=int, default=1000,
                   help="rows written one per call (default 1000)")
    p.add_argument("--address", help="use this Temporal server instead of a new dev server")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds a run may take before it counts as failed (default 300)")
    p.add_argument("--skip-s1", action="store_true", help="only the write throughput")
    p.add_argument("--skip-throughput", action="store_true", help="only the S1 latency")
    args = p.parse_args(argv)
    if (args.sequential < 1 or args.warmup < 0 or args.timeout <= 0 or args.rows < 1
            or args.single_rows < 1 or args.neo4j_warmup < 0):
        p.error("-n, --rows and --single-rows must be >= 1, --warmup and --neo4j-warmup "
                ">= 0, --timeout > 0")
    return args


async def amain(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    print(f"mirror cost: S1 warm-up {args.warmup}, runs {args.sequential} per variant; writes "
          f"{args.single_rows} rows at batch size 1, {args.rows} at 100 and 1000; "
          f"{os.cpu_count()} CPUs, load average {load()}")
    async with temporal_at(args.address) as address:
        with tempfile.TemporaryDirectory(prefix="mirror-bench-") as tmp:
            await bench(address, args, Path(tmp))
    print(f"\ndone in {time.perf_counter() - started:.1f} s; load average {load()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # As in bench.s1_overhead: the sandbox re-imports workflow modules every run;
    # cache their bytecode whatever the environment says.
    sys.dont_write_bytecode = False
    # Neo4j's notes on reads of properties an emptied graph does not have yet: noise here.
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    return asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
