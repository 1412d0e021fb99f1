"""The offline planner: rules read the request, the graph decides the order."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import CannotPlan
from orchestrator.graph.store import GraphStore
from orchestrator.models import EntityRef, Plan, PlanOutput
from orchestrator.planning.deploy_targets import resolve_deploy_targets
from orchestrator.planning.parser import check_names, parse_request, spelling_hint
from orchestrator.planning.questions import asks, question_refused
from orchestrator.planning.reuse import PlanReuse
from orchestrator.planning.synthesis import Synthesiser
from orchestrator.planning.tools import ToolPlanner, ToolsTied
from orchestrator.planning.troubleshoot import TroubleshootPlanner, read_trouble

# Words asking to take something away, which no built-in capability does.
REMOVING = frozenset({
    "delete", "remove", "destroy", "uninstall", "decommission", "undeploy",
    "erase", "teardown",
})


class Planner(Protocol):
    # `context`: the entities of the conversation a follow-up message continues;
    # `making`: those the run it extends is making (planned as if they existed).
    # `last_try`: no retry follows a failure of this call (the plan activity's last
    # attempt), so a planner that depends on a service stands in without it.
    async def plan(
        self, message: str, context: Sequence[EntityRef] = (),
        making: Collection[EntityRef] = (), last_try: bool = False,
    ) -> Plan: ...


class OfflinePlanner:
    def __init__(
        self, registry: AgentRegistry, store: GraphStore, reuse_plans: bool = True
    ) -> None:
        self._synthesiser = Synthesiser(registry, store)
        self._store = store
        # Completed plans of requests shaped like this one, renamed (see reuse.py).
        self._reuse = PlanReuse(registry, store) if reuse_plans else None
        self._tools = ToolPlanner(registry, store)
        self._troubleshooter = TroubleshootPlanner(registry, store)

    async def plan(
        self, message: str, context: Sequence[EntityRef] = (),
        making: Collection[EntityRef] = (), last_try: bool = False,
    ) -> Plan:
        # "X is failing, fix it" asks for no things to make: it has its own reader.
        if read_trouble(message) is not None:
            return await self._troubleshooter.plan(message, context)
        # Requests that chain links ("A -> B") or name an MCP server may use tools.
        if self._tools.wants(message):
            return await self._tools.plan(message)
        parsed = parse_request(message, only_application(context), applications(context))
        understood = [f"{a.verb} {a.kind} {a.name}" for a in parsed.actions]
        if parsed.not_understood:
            removing = sorted(set(parsed.not_understood) & REMOVING)
            if asks(message):
                refusal = await question_refused(message, self._store, understood,
                                                 parsed.not_understood)
            elif removing:
                # "delete application shop" read as "create application shop" would
                # be told back as understood: the opposite of what was asked.
                refusal = CannotPlan(
                    f"a request cannot {removing[0]} things: the built-in agents only "
                    "undo what a run made, when that run rolls back (orchestrator cancel "
                    "or reject while it runs)", [], parsed.not_understood)
            else:
                refusal = CannotPlan(
                    "part of the request was not understood"
                    + spelling_hint(parsed.not_understood, message)
                    + "".join(f" ({hint})" for hint in parsed.hints),
                    understood, parsed.not_understood,
                )
            return await self._as_tool_calls(message, refusal)
        if not parsed.actions:
            raise CannotPlan("the request asks for nothing I can do", [], [])
        if parsed.questions:
            # A deploy that names no application after several were asked for: a
            # guess (the last one) would deploy one and leave the other undeployed.
            raise CannotPlan(parsed.questions[0], [
                u for u, a in zip(understood, parsed.actions, strict=True)
                if a.kind != "deployment"], [])
        # A follow-up's qualifiers and entities may come from its conversation or the
        # run it extends: that is synthesis's part.
        actions = parsed.actions
        check_names(actions)
        if self._reuse is not None and not context and not making:
            # What a deploy is of read first: a stored plan is renamed to it.
            actions = await resolve_deploy_targets(actions, self._store)
            check_names(actions)  # renamed after what a deploy is of, as synthesis does
            reused = await self._reuse.plan(message, actions)
            if reused is not None:
                return reused
            return await self._synthesiser.synthesise(message, actions, targets_read=True)
        return await self._synthesiser.synthesise(message, actions, context, making)

    async def _as_tool_calls(self, message: str, refusal: CannotPlan) -> Plan:
        """A request the built-in rules cannot read may be a tool call said without
        its server ("write file notes.txt with hello"): every word must still be one
        the chosen tool knows. Refused as the rules refused it otherwise, unless a
        tool was found for part of it, which is the nearer reading."""
        servers = self._tools.servers()
        if not servers:
            raise refusal
        try:
            return await self._tools.plan(message)
        except CannotPlan as as_tools:
            # Part of it read as tool calls, or a link several tools fit: the
            # nearer reading, which asks which tool was meant.
            if as_tools.understood or isinstance(as_tools, ToolsTied):
                raise
            raise CannotPlan(
                f"{refusal.reason} (a call of an MCP tool may name its server first: "
                f"{', '.join(servers)})", refusal.understood, refusal.not_understood,
            ) from None


def only_application(context: Sequence[EntityRef]) -> str | None:
    """The conversation's application, if it has exactly one: a deployment of "it"
    is then named after it, as one named in the text would be (with several, the
    synthesiser asks which)."""
    apps = applications(context)
    return apps[0] if len(apps) == 1 else None


def applications(context: Sequence[EntityRef]) -> list[str]:
    """The conversation's applications, by name."""
    return sorted({e.name for e in context if e.kind == "application"})


def with_definitions(plan: Plan, registry: AgentRegistry) -> PlanOutput:
    """The plan plus every capability and agent it needs, compensations included,
    so the workflow can validate and run it without looking anything up."""
    names = {s.capability for s in plan.steps}
    names |= {s.compensation.capability for s in plan.steps if s.compensation}
    capabilities = {n: registry.capability(n) for n in sorted(names)}
    agent_ids = {a for s in plan.steps for a in (s.agent, *s.fallbacks)}
    # Every provider of an undo: a step that moved to another agent is undone by it.
    agent_ids |= {a.id for s in plan.steps if s.compensation
                  for a in registry.providers(s.compensation.capability)}
    agents = {i: registry.agent(i) for i in sorted(agent_ids)}
    return PlanOutput(plan=plan, capabilities=capabilities, agents=agents)
