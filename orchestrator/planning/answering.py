"""A message answering a request that was refused because it was not clear which
of several things it meant ("several failing deployments match (blog-staging,
ecommerce-staging): name the one to fix" -> "the ecommerce one").

The message is planned on its own first: a full new request ("fix
ecommerce-staging") stands as it is, and so does its refusal when it is refused
for a reason of its own (it understood something). Only a message the planner
understands nothing of is read as the answer: the entities it names in the
graph take the place of the conversation's of their kinds, and the refused
request is planned again with them, which then picks the one they name
(troubleshoot.py narrows several failing deployments to those the conversation
names; "my app" is the conversation's application when it has one).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from orchestrator.errors import CannotPlan
from orchestrator.graph.store import GraphStore
from orchestrator.models import EntityRef, Plan
from orchestrator.planning.environments import corrected
from orchestrator.planning.offline import Planner
from orchestrator.planning.parser import answer_names, naming_deploys, parse_request

APPLICATION = "application"


async def plan_message(
    planner: Planner, store: GraphStore, message: str, answering: str | None,
    context: Sequence[EntityRef] = (), making: Collection[EntityRef] = (),
    last_try: bool = False,
) -> Plan:
    if answering is not None:
        # "production", answering "did you mean 'production'?": the request, put right.
        fixed = await corrected(answering, message, store)
        # "b1 and b2", "both", answering "which application is deployed?": the same.
        fixed = fixed or await _naming_deploys(store, message, answering, context)
        if fixed is not None:
            return await planner.plan(fixed, context, making, last_try=last_try)
    try:
        plan = await planner.plan(message, context, making, last_try=last_try)
    except CannotPlan as refused:
        # Understood in part, it is a request of its own ("ecommerce is down in
        # staging"), refused for its own reason: that reason stands.
        if answering is None or refused.understood:
            raise
        alone = refused
    else:
        chosen = _only_naming(plan, context) if answering is not None else None
        if answering is None or chosen is None:
            return plan
        # "the blog application": read alone, it makes what the conversation has
        # already (and the request it answers would be dropped); it is a choice.
        return await planner.plan(answering, answered_context(context, chosen), making,
                                  last_try=last_try)
    named = [entity.ref for entity in await store.resolve_reference(message)]
    if not named:
        raise CannotPlan(f"{alone.reason}; as an answer to {answering!r}, it names "
                         "nothing the graph holds", alone.understood, alone.not_understood)
    return await planner.plan(answering, answered_context(context, named), making,
                              last_try=last_try)


async def _naming_deploys(
    store: GraphStore, message: str, answering: str, context: Sequence[EntityRef]
) -> str | None:
    """The request answered, its deploys naming the applications the answer names
    ("both": each of those the question could mean: the request's own, else the
    conversation's, else the graph's). None when the answer names something else;
    a refusal when it names several for a request that takes one."""
    names = answer_names(message)
    if names is None:
        return None
    made = [a.name for a in parse_request(answering).actions
            if a.kind == APPLICATION and not a.existing]
    talked_of = [ref.name for ref in context if ref.kind == APPLICATION]
    held = sorted(e.name for e in await store.find_entities(APPLICATION))
    if names == ["them"]:
        names = made or talked_of or held
    elif not set(names) <= {*made, *talked_of, *held}:
        return None
    fixed = naming_deploys(answering, names)
    if fixed is None and len(names) > 1:
        raise CannotPlan(f"{answering!r} is asked of one application at a time: answer "
                         f"with one of {' or '.join(names)}, then ask again for the next",
                         [], [])
    return fixed


def _only_naming(plan: Plan, context: Sequence[EntityRef]) -> list[EntityRef] | None:
    """The conversation's entities a plan would only make again, when that is all
    it does; None when it does anything else."""
    known = {ref.key for ref in context}
    named: list[EntityRef] = []
    for step in plan.steps:
        made = [ref for ref in step.operates_on if ref.key in known]
        if not step.capability.endswith((".create", ".ensure")) or not made or len(made) != len(
            step.operates_on
        ):
            return None
        named += [ref for ref in made if ref not in named]
    return named or None


def answered_context(context: Sequence[EntityRef], named: Sequence[EntityRef]) -> list[EntityRef]:
    """The conversation's entities as the answer leaves them: of each kind the
    answer names, only what it names (the question was which of them: "blog or
    shop?" -> "shop"), first; of the other kinds, all of them."""
    kinds = {ref.kind for ref in named}
    return [*named, *(ref for ref in context if ref.kind not in kinds)]
