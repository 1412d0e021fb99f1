"""How data flows between the steps of a tool plan: which earlier output gives a
step's input, what a compensation is called with, and the drafts they work on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import CannotPlan
from orchestrator.models import Capability, Step

# Where a tool's structured result sits in a step's output.
STRUCTURED = "structured_content"
MAX_ID = 63


@dataclass
class ToolDraft:
    """A tool step being planned: the link of the request it came from, the
    arguments given there, and the parameters and dependencies worked out."""

    id: str
    link: int
    capability: Capability
    arguments: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)
    depends_on: set[str] = field(default_factory=set)
    # "it" or "my <kind>", when the clause refers to something instead of naming it.
    reference: str | None = None
    # For a clause that only named a server, until its tool is chosen.
    server: str = ""
    said: str = ""
    why: str = ""
    # Chosen for what other steps consume, the clause having named only a server:
    # not needed when the graph already holds what it would make.
    by_flow: bool = False


# Stands in for the tool of a clause that only named its server.
UNCHOSEN = Capability(name="mcp.unchosen.tool", description="", input_schema={})


def undo_parameters(draft: ToolDraft, undo: Capability) -> dict[str, Any]:
    """The compensation's arguments: the step's own, else from its output
    (`<x>_id` from the output's `id`)."""
    outputs = output_properties(draft.capability)
    params: dict[str, Any] = {}
    for name in undo.input_schema.get("properties", {}):
        if name in draft.params:
            params[name] = draft.params[name]
        elif name in outputs or (name.endswith("_id") and "id" in outputs):
            key = name if name in outputs else "id"
            params[name] = f"${{steps.{draft.id}.output.{STRUCTURED}.{key}}}"
        elif name in undo.input_schema.get("required", []):
            raise CannotPlan(
                f"{undo.name} (the undo of {draft.capability.name}) needs {name}, which "
                "neither its arguments nor its output give", [], [],
            )
    return params


def source_of(
    name: str, earlier: list[tuple[int, Step | ToolDraft]], registry: AgentRegistry
) -> tuple[str, str] | None:
    """The nearest earlier output that gives parameter `name`: a property of that
    name, or the name of the entity of kind `name` it produced."""
    for _, item in reversed(earlier):
        if isinstance(item, ToolDraft):
            outputs = output_properties(item.capability)
            if name in outputs:
                return f"${{steps.{item.id}.output.{STRUCTURED}.{name}}}", item.id
            if name in item.capability.produces and "name" in outputs:
                return f"${{steps.{item.id}.output.{STRUCTURED}.name}}", item.id
            if name in item.capability.produces and isinstance(item.params.get("name"), str):
                # Its result untyped (no output schema): what it was told to name it.
                return item.params["name"], item.id
        elif name in registry.capability(item.capability).produces:
            # A built-in agent's output names what it made under its kind.
            return f"${{steps.{item.id}.output.{name}}}", item.id
    return None


def output_properties(capability: Capability) -> set[str]:
    schema = capability.output_schema or {}
    return set(schema.get("properties", {}))


def produces(item: Step | ToolDraft, registry: AgentRegistry) -> list[str]:
    capability = item.capability if isinstance(item, ToolDraft) else registry.capability(
        item.capability)
    return capability.produces


def read_only(item: Step | ToolDraft, registry: AgentRegistry) -> bool:
    if isinstance(item, ToolDraft):
        return item.capability.read_only
    return registry.capability(item.capability).read_only


def step_id(item: Step | ToolDraft) -> str:
    return item.id


def depends_on(item: Step | ToolDraft) -> list[str]:
    return sorted(item.depends_on)


def add_depends_on(item: Step | ToolDraft, ids: set[str]) -> None:
    if isinstance(item, ToolDraft):
        item.depends_on |= ids
    else:
        item.depends_on = sorted(set(item.depends_on) | ids)


def unique_id(base: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_-]", "-", base.lower())[:MAX_ID].strip("-_") or "tool"
    if not base[0].isalpha():
        base = f"t-{base}"[:MAX_ID]
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"-{n}"
        candidate, n = base[: MAX_ID - len(suffix)] + suffix, n + 1
    return candidate

def upstream(waits: dict[str, set[str]], ids: set[str]) -> set[str]:
    """Every step the given steps wait for, directly or not."""
    found: set[str] = set()
    todo = [w for i in ids for w in waits.get(i, ())]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo += waits.get(current, ())
    return found
