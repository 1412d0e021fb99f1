"""The bare S1 shape with every Temporal feature an orchestrator run uses, and none
of the orchestrator's own work: what the Temporal side of a run costs by itself.

`FeaturedS1Workflow` runs the same 4 waves of 6 no-op activities as `S1Workflow`,
and adds what `OrchestrationWorkflow` asks of Temporal: a local activity before
the first wave whose result is as large as the plan, the `search-attributes`
patch and the status upserts, summaries, heartbeat timeouts and retry policies on
the steps, step inputs and outputs of the orchestrator's sizes, a local activity
after the last wave taking a run record's size, and a result of the run result's
size. The sizes come from a real orchestrator run's history, in the same
benchmark run. Nothing plans, validates, resolves, or touches a graph.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

from workflows import search_attributes as sa

TIMEOUT = timedelta(seconds=30)
HEARTBEAT = timedelta(seconds=5)  # the built-in agents' heartbeat timeout
RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3)


@dataclass
class Sizes:
    """Payload sizes, in bytes, of an orchestrator run."""

    plan: int = 0
    step_input: int = 0
    step_output: int = 0
    result: int = 0


@dataclass
class Sized:
    pad: str
    answer_bytes: int


@activity.defn
async def sized(request: Sized) -> str:
    """A no-op with an answer of the size asked for."""
    return "x" * request.answer_bytes


def sizes_from(history: WorkflowHistory) -> Sizes:
    """The payload sizes of one orchestrator run, read from its history."""
    plan = result = 0
    inputs: list[int] = []
    outputs: list[int] = []
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            data = event.marker_recorded_event_attributes.details.get("result")
            plan = max(plan, _bytes(data) if data else 0)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            inputs.append(_bytes(attrs.input))
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs_done = event.activity_task_completed_event_attributes
            outputs.append(_bytes(attrs_done.result))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            done = event.workflow_execution_completed_event_attributes
            result = _bytes(done.result)
    return Sizes(plan=plan, step_input=_mean(inputs), step_output=_mean(outputs),
                 result=result)


def _bytes(payloads: Payloads) -> int:
    return sum(len(p.data) for p in payloads.payloads)


def _mean(values: list[int]) -> int:
    return sum(values) // len(values) if values else 0


@workflow.defn
class FeaturedS1Workflow:
    """4 stages: 1 -> (2, 3) -> 4 -> (5, 6), with the orchestrator's Temporal features."""

    @workflow.run
    async def run(self, sizes: Sizes) -> str:
        workflow.patched(sa.PATCH)
        await workflow.execute_local_activity(
            sized, Sized("", sizes.plan), start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY, summary="plan the request",
        )
        workflow.upsert_search_attributes([
            sa.STATUS.value_set("running"), sa.TENANT.value_set("default"),
            sa.INTENT.value_set("application"),
        ])
        await self._step(1, sizes)
        await asyncio.gather(self._step(2, sizes), self._step(3, sizes))
        await self._step(4, sizes)
        await asyncio.gather(self._step(5, sizes), self._step(6, sizes))
        workflow.upsert_search_attributes([sa.STATUS.value_set("completed")])
        await workflow.execute_local_activity(
            sized, Sized("r" * sizes.result, 0), start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY, summary="mirror completed run",
        )
        return "z" * sizes.result

    async def _step(self, stage: int, sizes: Sizes) -> str:
        return await workflow.execute_activity(
            sized, Sized("p" * sizes.step_input, sizes.step_output),
            start_to_close_timeout=TIMEOUT, heartbeat_timeout=HEARTBEAT, retry_policy=RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=f"step {stage} · capability · agent",
        )
