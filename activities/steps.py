"""The step activity: one agent call, mirrored into the graph as it starts and ends."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deadline import seconds_left
from activities.errors import to_application_error
from activities.heartbeat import beat, heartbeating
from activities.metrics import step_ended
from orchestrator.agents.base import AgentResult, AgentRunner, StepContext
from orchestrator.errors import AttemptTimedOut, GraphStoreUnavailable, OrchestratorError
from orchestrator.graph.mirror import WriteBehindMirror
from orchestrator.models import Step, StepInput, StepOutput, StepRecord, StepStatus

log = logging.getLogger(__name__)
# How often a step tries the graph again while it cannot reach it.
GRAPH_WAIT_S = 1.0


class StepActivities:
    def __init__(self, agents: AgentRunner, mirror: WriteBehindMirror) -> None:
        self._agents = agents
        self._mirror = mirror

    @activity.defn(name="run_agent_step")
    async def run_agent_step(self, request: StepInput) -> StepOutput:
        step, attempt = request.step, activity.info().attempt
        started, clock = datetime.now(UTC), time.monotonic()
        record = StepRecord(
            workflow_id=request.workflow_id, step_id=step.id, capability=step.capability,
            agent=step.agent, status=StepStatus.RUNNING, attempt=attempt, undo=request.undo,
        )
        # Mirrored write-behind: the graph being slow or down never holds up a step.
        self._mirror.submit(record)
        ctx = StepContext(workflow_id=request.workflow_id, step_id=step.id, attempt=attempt,
                          agent=step.agent, undo=request.undo)
        stop = asyncio.timeout(seconds_left())
        waited: list[GraphStoreUnavailable] = []
        # Counted however the try ends (an agent's bug too: Temporal reports it).
        outcome = "failed"
        try:
            # The attempt too: Temporal keeps a heartbeat's details into the next
            # attempt, whose progress has not begun.
            named = {"step": step.id, "undo": request.undo, "attempt": attempt}
            async with heartbeating(named), stop:
                result = await self._graph_waited(step, ctx, waited)
            outcome = "completed"
        except asyncio.CancelledError:
            outcome = "cancelled"
            self._mirror.submit(record.model_copy(update={"status": StepStatus.CANCELLED}))
            raise
        except TimeoutError as timed_out:
            if not stop.expired():  # the agent's own
                raise
            limit = activity.info().start_to_close_timeout
            ms = f" within {limit.total_seconds() * 1000:.0f} ms" if limit else ""
            why = f": {waited[-1]}" if waited else ""
            late = AttemptTimedOut(f"{step.agent} did not finish{ms} (its timeout){why}")
            raise self._failed(record, request, late) from timed_out
        except OrchestratorError as error:
            raise self._failed(record, request, error) from error
        finally:
            step_ended(step.capability, step.agent, request.undo, outcome, clock)
        self._mirror.submit(record.model_copy(update={
            "status": StepStatus.COMPLETED, "output": result.output,
            "operates_on": result.operates_on,
        }))
        return StepOutput(
            output=result.output, started_at=started, finished_at=datetime.now(UTC),
            attempt=attempt, operates_on=result.operates_on,
        )

    async def _graph_waited(
        self, step: Step, ctx: StepContext, waited: list[GraphStoreUnavailable]
    ) -> AgentResult:
        """The agent's call, the graph being unreachable waited out within the
        attempt (its deadline ends the wait, naming the graph): a Neo4j restarting
        takes seconds, and failing at once would leave the rollback to a graph just
        as unreachable. Agents are idempotent: calling again does nothing twice."""
        while True:
            try:
                return await self._agents.run(step.capability, step.parameters, ctx)
            except GraphStoreUnavailable as error:
                if not waited:
                    log.warning("step %s of %s waits for the graph: %s", step.id,
                                ctx.workflow_id, error)
                    # Shown with the step's progress (api/run_state.py) while it waits.
                    beat(waiting=f"for the graph: {error}")
                waited.append(error)
                await asyncio.sleep(GRAPH_WAIT_S)

    def _failed(self, record: StepRecord, request: StepInput, error: OrchestratorError
                ) -> ApplicationError:
        """Mirror and tell a failed attempt; the failure to raise."""
        step, attempt = request.step, record.attempt
        # Linked to what it was to work on, as the run's final mirror does
        # (workflows/outcomes.py): a failed step may have changed it.
        self._mirror.submit(record.model_copy(update={
            "status": StepStatus.FAILED, "error": str(error), "operates_on": step.operates_on}))
        log.warning("step %s of %s failed (attempt %d, %s): %s", step.id,
                    request.workflow_id, attempt,
                    "retryable" if error.retryable else "not retryable", error)
        return to_application_error(error, {"attempt": attempt}, told=True)
