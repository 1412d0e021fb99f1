"""The plan activity: turns the request into a plan with its definitions."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping

from temporalio import activity

from activities.errors import to_application_error
from activities.heartbeat import heartbeating
from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import CannotPlan, OrchestratorError
from orchestrator.graph.mirror import WriteBehindMirror
from orchestrator.graph.store import GraphStore
from orchestrator.mcp.errors import McpToolChanged
from orchestrator.mcp.pinning import ToolChange
from orchestrator.models import Plan, PlanInput, PlanOutput, RunRecord, RunStatus
from orchestrator.planning.answering import plan_message
from orchestrator.planning.offline import Planner, with_definitions
from orchestrator.planning.quick import mark_quick, reads

log = logging.getLogger(__name__)
PLAN_ACTIVITY = "plan_request"


# The tools refused until approved, by the (capability, agent) calling them, of
# the MCP servers given (listed again first if they may have changed).
ChangedTools = Callable[[list[str]], Awaitable[Mapping[tuple[str, str], ToolChange]]]


async def _none_changed(servers: list[str]) -> Mapping[tuple[str, str], ToolChange]:
    return {}


class PlanningActivities:
    def __init__(
        self, planner: Planner, registry: AgentRegistry, mirror: WriteBehindMirror,
        store: GraphStore, changed_tools: ChangedTools = _none_changed,
        unavailable: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        self._planner = planner
        self._registry = registry
        self._mirror = mirror
        self._store = store
        self._changed_tools = changed_tools
        # MCP servers configured but out of plans' reach now, with why.
        self._unavailable = unavailable

    @activity.defn(name=PLAN_ACTIVITY)
    async def plan_request(self, request: PlanInput) -> PlanOutput:
        """Plan the request; the plan is mirrored write-behind, off the path to the
        first step (the run's final mirror carries it again, so it is never lost)."""
        try:
            # Beats only when planned as an activity (a model plans: workflows/planning.py).
            async with heartbeating():
                plan = await plan_message(self._planner, self._store, request.message,
                                          request.answering, request.context, request.making,
                                          last_try=_last_try())
            plan = _with_tries(plan)
            planned = with_definitions(plan, self._registry)
            servers = sorted({c.source.server for c in planned.capabilities.values()
                              if c.source is not None})
            _refuse_changed_tools(planned, await self._changed_tools(servers))
            planned = mark_quick(planned, await self._store.agent_stats()
                                 if reads(planned) else {})
        except CannotPlan as refused:
            raise to_application_error(
                _naming_unavailable(refused, request.message, self._unavailable())
            ) from refused
        except OrchestratorError as error:
            if error.retryable:
                # Told in one line; Temporal's own log of a failed attempt would add
                # its traceback, on every retry of a model service that is down.
                log.warning("planning %s failed (attempt %d, retried): %s",
                            request.workflow_id, activity.info().attempt, error)
            raise to_application_error(error, told=error.retryable) from error
        if plan.fallback_reason:
            # The planner's own line cannot say which run it planned.
            log.warning("run %s was planned without the model: %s", request.workflow_id,
                        plan.fallback_reason)
        if request.extension:  # the run's final mirror carries the steps it adds
            return planned
        if request.dry_run:  # a dry run leaves no trace in the graph; it predicts
            stats = await self._store.agent_stats()
            return planned.model_copy(update={"stats": {
                key: value for key, value in stats.items()
                if key.split("/", 1)[0] in planned.agents
            }, "stage_overhead_ms": await self._store.stage_overhead_ms()})
        self._mirror.submit_plan(RunRecord(
            workflow_id=request.workflow_id, request=request.message,
            status=RunStatus.RUNNING, plan=planned.plan,
        ))
        return planned


def _last_try() -> bool:
    """Whether a failure of this attempt is final (the retry policy's last attempt)."""
    info = activity.info()
    policy = info.retry_policy
    return bool(policy and policy.maximum_attempts and info.attempt >= policy.maximum_attempts)


def _with_tries(plan: Plan) -> Plan:
    """A plan the rules made after the model failed earlier tries says how many
    tries it took: the command that waited for it learns why it waited, which the
    tries could not tell it as they went (they run inside the workflow's task)."""
    attempt = activity.info().attempt
    if plan.fallback_reason is None or attempt <= 1:
        return plan
    return plan.model_copy(update={"fallback_reason": f"{plan.fallback_reason}; "
                                                      f"tried {attempt} times"})


def _refuse_changed_tools(
    planned: PlanOutput, changed: Mapping[tuple[str, str], ToolChange]
) -> None:
    """A plan calling a tool that changed since it was approved is refused before
    anything runs (its call would be refused anyway, after the steps before it),
    and a dry run says so rather than predict a success. A step another agent can
    take over (a server providing the same capability) is left to fail over."""
    for step in planned.plan.steps:
        changes = [changed.get((step.capability, a)) for a in [step.agent, *step.fallbacks]]
        if changes and all(changes):
            first = changes[0]
            assert first is not None
            refused = McpToolChanged(first.server, first.tool)
            raise CannotPlan(f"step {step.id}: {refused}", [], [])


def _naming_unavailable(
    refused: CannotPlan, message: str, unavailable: Mapping[str, str]
) -> CannotPlan:
    """A refusal of a request that names an MCP server whose tools are out of reach
    says why ("MCP server 'flaky' has not answered (...)"): the words it could not
    place are most likely that server's."""
    said = {word.lower() for word in re.findall(r"[A-Za-z0-9_.-]+", message)}
    why = [f"MCP server {name!r} {reason}" for name, reason in sorted(unavailable.items())
           if name.lower() in said]
    if not why:
        return refused
    return CannotPlan(f"{refused.reason} ({'; '.join(why)})", refused.understood,
                      refused.not_understood)
