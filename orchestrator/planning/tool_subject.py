"""What "it", "my app" or the goal's name ("deploy shop using ...") stand for in
a tool plan: an earlier step's output, or an entity of the graph, never a guess.

"it" is the nearest earlier step that makes something; "my <kind>" is the
nearest earlier step making that kind, else the graph's one entity of it.
Several candidates, or none, end planning with a reason naming them.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import CannotPlan
from orchestrator.graph.store import GraphStore
from orchestrator.models import Step
from orchestrator.planning.tool_flow import STRUCTURED, ToolDraft, output_properties
from orchestrator.planning.tool_values import kind_of

Earlier = list[tuple[int, Step | ToolDraft]]


@dataclass(frozen=True)
class Subject:
    """A value a reference stands for: a literal name, or an earlier step's output."""

    value: str
    said: str
    kind: str | None = None
    # The step whose output `value` refers to, and the name it was given there.
    step: str | None = None
    name: str | None = None


def made_by(item: Step | ToolDraft, registry: AgentRegistry) -> tuple[str, str | None] | None:
    """A reference to the name of what the step makes, and its kind."""
    if isinstance(item, ToolDraft):
        kind = item.capability.produces[0] if item.capability.produces else None
        if "name" in output_properties(item.capability) and (kind or "name" in item.params):
            return f"${{steps.{item.id}.output.{STRUCTURED}.name}}", kind
        given = item.params.get("name")
        # Its result untyped (no output schema): what it was told to name it.
        return (given, kind) if kind and isinstance(given, str) else None
    produced = registry.capability(item.capability).produces
    # A built-in agent's output names what it made under its kind.
    return (f"${{steps.{item.id}.output.{produced[0]}}}", produced[0]) if produced else None


async def resolve(
    said: str, earlier: Earlier, registry: AgentRegistry, store: GraphStore,
    understood: list[str], taken: frozenset[str] = frozenset(),
) -> Subject | None:
    """What `said` ("it" or "my <kind>") stands for; None for "it" with nothing
    earlier (the goal's subject may still say). Steps in `taken` already give the
    asking step something: "it" is not theirs ("provision cluster prod, deploy it":
    not the cluster), but "my <kind>" is, when they make that kind ("create
    repository x -> create branch y on my repo": the repository already given)."""
    kind = None if said == "it" else kind_of(said.split()[-1])
    for _, item in reversed(earlier):
        made = made_by(item, registry)
        if made is None or (kind is not None and made[1] != kind):
            continue
        if kind is not None or item.id not in taken:
            given = item.params.get("name") if isinstance(item, ToolDraft) else None
            named = given if isinstance(given, str) else None
            return Subject(made[0], said, made[1], item.id, named)
    if kind is None:
        return None
    # "my <kind>" with no earlier step making one: the graph's entities of the kind
    # (its word may be one the graph's reading of references does not know: "repo").
    names = sorted({e.name for e in await store.find_entities(kind)})
    if len(names) > 1:
        raise CannotPlan(f"which {kind} is {said!r}? {' or '.join(names)}; name it",
                         understood, [])
    if not names:
        raise CannotPlan(f"I cannot tell what {said!r} is: the graph holds no {kind}",
                         understood, [])
    return Subject(names[0], said, kind, name=names[0])


async def literal(name: str, store: GraphStore) -> Subject:
    """A name the request says, with its kind when the graph knows exactly one."""
    kinds = {e.kind for e in await store.resolve_reference(name) if e.name == name}
    return Subject(name, name, kinds.pop() if len(kinds) == 1 else None, name=name)


def from_earlier(subject: Subject, earlier: Earlier) -> Subject:
    """A literal name an earlier tool step of the plan was given as its `name` is
    taken from that step's output, so the later step waits for it."""
    if subject.step is not None:
        return subject
    for _, item in reversed(earlier):
        if (isinstance(item, ToolDraft) and item.params.get("name") == subject.value
                and "name" in output_properties(item.capability)):
            return Subject(f"${{steps.{item.id}.output.{STRUCTURED}.name}}", subject.said,
                           subject.kind, item.id, subject.name)
    return subject


def entity_kinds(registry: AgentRegistry) -> set[str]:
    """The kinds of entity the catalogue's capabilities make or need."""
    return {k for c in registry.capabilities for k in (*c.produces, *c.consumes)}


async def goal_subject(
    reference: str | None, name: str | None, earlier: Earlier, registry: AgentRegistry,
    store: GraphStore, understood: list[str],
) -> Subject | None:
    """What the goal ("deploy my app using ...") is about: what its reference stands
    for, or the name it says."""
    if reference is not None:
        return await resolve(reference, earlier, registry, store, understood)
    return await literal(name, store) if name is not None else None
