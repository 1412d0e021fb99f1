"""Rollback cost: from a step's failure to the end of the rollback.

An S1-shaped run whose security policy fails for good once five steps have
completed (application, service, environment, deployment, monitoring policy):
the run compensates those five, dependents first (monitoring policy, then the
deployment, then service and environment together, then the application). The
figure is the time from the failed step's end (as the workflow saw it) to the
run's end, p50 and p95 over ``-n`` runs one after another, on the real runtime
(built-in agents, embedded graph, dev server).

Run from the project root::

    python -m bench.rollback_cost            # own dev server on a free port
    python -m bench.rollback_cost -n 50
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from bench.bare_latency import pct
from bench.server import temporal_at
from orchestrator.agents.faults import Fault
from orchestrator.models import OrchestrationRequest, RunResult, RunStatus, StepStatus
from orchestrator.settings import Settings
from worker.client import connect
from worker.runtime import build_runtime, build_worker, started
from workflows.orchestration import OrchestrationWorkflow

S1 = (
    "Create application ecommerce with payment service, deploy to production "
    "with monitoring and security policies"
)
FAILING = "apply-policy-security"
SECURITY_FAILS = Fault(fail_attempts=1, non_retryable=True, when={"policy": "security"})


def rollback_ms(result: RunResult) -> float:
    failed = result.steps[FAILING]
    assert failed.finished_at is not None and result.finished_at is not None
    return (result.finished_at - failed.finished_at).total_seconds() * 1000


def check(result: RunResult) -> None:
    undone = [i for i, r in result.steps.items() if r.status == StepStatus.COMPENSATED]
    if result.status != RunStatus.ROLLED_BACK or len(undone) != 5:
        raise RuntimeError(f"{result.workflow_id}: {result.status}, {len(undone)} compensated")


async def bench(address: str, runs: int, warmup: int) -> None:
    client = await connect(Settings(temporal_address=address))
    settings = Settings(
        temporal_address=address, data_dir=Path(tempfile.mkdtemp()),
        task_queue=f"bench-rollback-{uuid.uuid4().hex[:8]}",
        agent_faults={"policy.apply": SECURITY_FAILS},
    )
    runtime = await build_runtime(settings)
    costs: list[float] = []
    totals: list[float] = []
    try:
        async with build_worker(client, runtime):
            started()  # as a worker process does once it is up
            for i in range(warmup + runs):
                result: RunResult = await client.execute_workflow(
                    OrchestrationWorkflow.run, OrchestrationRequest(message=S1),
                    id=f"bench-rollback-{uuid.uuid4()}", task_queue=settings.task_queue,
                )
                check(result)
                if i >= warmup:
                    costs.append(rollback_ms(result))
                    assert result.started_at and result.finished_at
                    totals.append((result.finished_at - result.started_at).total_seconds() * 1e3)
    finally:
        await runtime.close()
    print(f"rollback of 5 completed steps, {runs} runs one after another")
    print(f"  failure -> end of rollback  p50 {statistics.median(costs):7.1f} ms"
          f"  p95 {pct(costs, 0.95):7.1f} ms  min {min(costs):.1f}  max {max(costs):.1f}")
    print(f"  whole run (start -> end)    p50 {statistics.median(totals):7.1f} ms")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--address", help="use this Temporal server instead of a new dev server")
    return p.parse_args(argv)


async def amain(args: argparse.Namespace) -> None:
    async with temporal_at(args.address) as address:
        await bench(address, args.runs, args.warmup)


if __name__ == "__main__":
    # Each run fails a step on purpose; the SDK's warning for each is noise here.
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    asyncio.run(amain(parse_args()))
