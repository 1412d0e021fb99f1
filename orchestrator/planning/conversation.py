"""A conversation's context: the entities its runs worked on.

A follow-up ("also add a cache service") names less than a first request: what it
leaves out (the application a service belongs to, the deployment a policy guards)
is taken from the entities of the conversation, when exactly one fits. When several
fit, the planner asks rather than guesses.

Pure functions of the models: the API, the plan activity and workflow code use them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from orchestrator.errors import CannotPlan
from orchestrator.models import EntityRef, Plan, RunResult, StepResult


def conversation_entities(
    plan: Plan | None, results: Iterable[StepResult] = (), earlier: Iterable[EntityRef] = ()
) -> list[EntityRef]:
    """Every entity a run planned to touch or touched, with the context it was
    given itself (so a conversation keeps its subject over several runs);
    sorted, each once."""
    found = {e.key: e for e in earlier}
    for step in plan.steps if plan else []:
        found.update((e.key, e) for e in step.operates_on)
    for result in results:
        found.update((e.key, e) for e in result.operates_on)
    return [found[k] for k in sorted(found)]


def context_of(run: RunResult) -> list[EntityRef]:
    """The context a follow-up on `run` is planned with."""
    return conversation_entities(run.plan, run.steps.values(), run.context)


def from_context(
    kind: str, context: Sequence[EntityRef], wanted_by: str
) -> str | None:
    """The name of the one entity of `kind` in the conversation; None when there is
    none; a refusal naming the candidates when there are several."""
    names = sorted({e.name for e in context if e.kind == kind})
    if len(names) > 1:
        raise CannotPlan(
            f"which {kind}? {' or '.join(names)} (for {wanted_by})", [wanted_by], []
        )
    return names[0] if names else None
