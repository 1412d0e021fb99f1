"""The LLM planner: the model reads the request; the synthesiser and the graph decide
the order, exactly as for the offline planner.

An answer that cannot be planned (an unknown capability or kind, a name that is not
one, a synthesiser refusal) gets one repair round with the problems spelled out.
If that fails too, or the model keeps answering unreadably, or says part of the
request is beyond the capabilities it was shown, the offline planner stands in and
the plan says why (a refusal then gives both readers' reasons). Tool calls (chains
of links, `key=value` arguments, a server's name) go to the rules at once.
Failures of the service itself (rate limits, outages, timeouts, a rejected
request) are raised for Temporal to retry or not;
on the plan's last try, a service that is still down or slow leaves the request
to the offline planner too, rather than fail a request the rules can plan.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import CannotPlan, InvalidInput, OrchestratorError, TransientFailure
from orchestrator.graph.store import GraphStore
from orchestrator.models import EntityRef, Plan
from orchestrator.planning.llm.answer import PlanningAnswer
from orchestrator.planning.llm.checks import answer_problems, unfounded_names
from orchestrator.planning.llm.context import ContextBuilder
from orchestrator.planning.llm.errors import ModelRejected, UnreadableAnswer
from orchestrator.planning.llm.prompt import first_messages, repair_messages
from orchestrator.planning.llm.provider import OpenAiPlanningModel, PlanningModel
from orchestrator.planning.memory import GraphPlanMemory
from orchestrator.planning.offline import OfflinePlanner, Planner
from orchestrator.planning.synthesis import Synthesiser
from orchestrator.planning.tools import ToolPlanner
from orchestrator.planning.troubleshoot import read_trouble
from orchestrator.settings import Settings

log = logging.getLogger(__name__)


class _Refused(Exception):
    """No plan could be built from the model's answers."""


@dataclass(frozen=True)
class _Conversation:
    """What a follow-up is planned with: the conversation's entities, and those
    the run it extends is making."""

    entities: Sequence[EntityRef]
    making: Collection[EntityRef]


class LlmPlanner:
    def __init__(
        self, model: PlanningModel, registry: AgentRegistry, store: GraphStore,
        context: ContextBuilder, fallback: Planner,
    ) -> None:
        self._model = model
        self._registry = registry
        self._store = store
        self._context = context
        self._fallback = fallback
        self._synthesiser = Synthesiser(registry, store)
        self._tools = ToolPlanner(registry, store)

    @classmethod
    def from_settings(
        cls, settings: Settings, registry: AgentRegistry, store: GraphStore
    ) -> LlmPlanner:
        return cls(
            OpenAiPlanningModel.from_settings(settings), registry, store,
            ContextBuilder(registry, store, settings.openai_max_capabilities,
                           memory=GraphPlanMemory(store)),
            fallback=OfflinePlanner(registry, store),
        )

    async def close(self) -> None:
        await self._model.close()

    async def plan(
        self, message: str, context: Sequence[EntityRef] = (),
        making: Collection[EntityRef] = (), last_try: bool = False,
    ) -> Plan:
        # "X is failing in staging, fix it" asks to make nothing: its target comes
        # from the graph (what is deployed there and failing) and its steps from the
        # diagnoses' fixed order, which the rules' reader plans without a guess. A
        # model's actions could only name things to make, such as a bare redeploy.
        if read_trouble(message) is not None and not making:
            return await self._fallback.plan(message, context, making)
        # Chains of tools ("a -> b"), `key=value` arguments and a server's name are
        # tool calls: the model's answer lists things to make, not calls with their
        # arguments, and the rules read those without a guess.
        if self._tools.wants(message):
            return await self._fallback.plan(message, context, making)
        conversation = _Conversation(context, making)
        try:
            return await self._plan_with_model(message, conversation)
        except _Refused as refused:
            return await self._fall_back(message, str(refused), conversation)
        except UnreadableAnswer as error:
            # Unless nothing follows: then a refusal says both readers' reasons.
            return await self._fall_back(message, str(error), conversation,
                                         transient=None if last_try else error)
        except TransientFailure as error:  # the service: down, slow or rate limiting
            if not last_try:
                raise
            return await self._fall_back(message, str(error), conversation)
        except ModelRejected as error:
            # A wrong key or model name will not fix itself: the model is not asked
            # again, and the request is not refused for the service's fault either.
            # The rules plan it, and `fallback_reason` (and the log) tell the operator.
            return await self._fall_back(message, str(error), conversation)

    async def _plan_with_model(self, message: str, context: _Conversation) -> Plan:
        gathered = await self._context.gather(message)
        gathered.conversation = list(context.entities)
        messages = first_messages(message, gathered)
        answer = await self._model.ask(messages)
        outcome = await self._build(message, answer, context)
        if isinstance(outcome, Plan):
            return outcome
        log.info("the model's answer cannot be planned; one repair round: %s", outcome)
        messages += repair_messages(answer.model_dump_json(), outcome)
        outcome = await self._build(message, await self._model.ask(messages), context)
        if isinstance(outcome, Plan):
            return outcome
        raise _Refused("the model's answer could not be planned, even after a repair round: "
                       + "; ".join(outcome))

    async def _build(
        self, message: str, answer: PlanningAnswer, context: _Conversation
    ) -> Plan | list[str]:
        """The plan, or the problems that keep the answer from being one."""
        if answer.not_understood:
            # The model says part of the request is beyond every capability it was
            # shown: no half plan. The rules see every capability (tools included)
            # and may read it whole; if not, the refusal gives both readers' reasons.
            raise _Refused("the model did not understand "
                           + ", ".join(map(repr, answer.not_understood)))
        problems = await answer_problems(answer, self._registry, self._store)
        problems += unfounded_names(answer, message, [*context.entities, *context.making])
        if problems:
            return problems
        try:
            plan = await self._synthesiser.synthesise(
                message, [a.to_action() for a in answer.actions], context.entities,
                context.making,
            )
        except CannotPlan as error:
            return [error.reason]
        except InvalidInput as error:
            return [str(error)]
        return plan.model_copy(update={"planner": "llm"})

    async def _fall_back(
        self, message: str, reason: str, context: _Conversation,
        transient: OrchestratorError | None = None,
    ) -> Plan:
        log.info("planning without the model: %s", reason)
        try:
            plan = await self._fallback.plan(message, context.entities, context.making)
        except CannotPlan as error:
            if transient is not None:
                # The rules cannot plan it either; the model may read better later.
                raise transient from error
            raise CannotPlan(f"{error.reason} (and {reason})", error.understood,
                             error.not_understood) from error
        return plan.model_copy(update={"planner": "offline", "fallback_reason": reason})
