"""The text of a notification in a chain ("... -> Slack notifications"), when
the request gives none.

It is composed only of facts the run will have when the message is sent: which
steps finished (those making what the notification consumes, else those of the
link before it; it waits for them, so it is never sent before they finish) and
the values of their results, by reference (`${steps.<id>.output...}`, filled in
when the step runs). Only plain values the tool's output schema requires are
quoted, so each reference resolves and the text stays short; the same plan
always gives the same text. Anywhere else (nothing before it, an optional step
it reports on, a parameter that is not a message's text) nothing is composed and
the planner asks for the text rather than invent one.
"""

from __future__ import annotations

from orchestrator.agents.registry import AgentRegistry
from orchestrator.models import Step
from orchestrator.planning.tool_flow import STRUCTURED, ToolDraft, produces
from orchestrator.planning.tool_match import words
from orchestrator.planning.tool_values import TEXT_PARAMS

_MESSAGE_TOOL_WORDS = frozenset({"post", "message"})
_PLAIN = frozenset({"string", "integer", "number", "boolean"})


def composes(draft: ToolDraft, param: str) -> bool:
    tool = draft.capability.source.tool if draft.capability.source else ""
    return param in TEXT_PARAMS and bool(words(tool) & _MESSAGE_TOOL_WORDS)


def compose(
    draft: ToolDraft, earlier: list[tuple[int, Step | ToolDraft]], registry: AgentRegistry
) -> tuple[str, set[str]] | None:
    """The text, and the steps it refers to; None when it cannot be told honestly."""
    # What it reports on: the steps making what it consumes (a deployment), else
    # the link before it.
    previous = [item for _, item in earlier
                if set(produces(item, registry)) & set(draft.capability.consumes)]
    links = [link for link, _ in earlier if link < draft.link]
    if not previous and links:
        previous = [item for link, item in earlier if link == max(links)]
    if not previous:
        return None
    parts: list[str] = []
    for item in previous:
        if isinstance(item, ToolDraft):
            if item.capability.optional:
                return None
            parts.append(_tool_part(item))
        else:
            if registry.capability(item.capability).optional or item.optional:
                return None
            made = ", ".join(f"{e.kind} {e.name}" for e in item.operates_on)
            parts.append(f"{item.capability} finished" + (f": {made}" if made else ""))
    return "; ".join(parts), {item.id for item in previous}


def _tool_part(draft: ToolDraft) -> str:
    schema = draft.capability.output_schema or {}
    properties = schema.get("properties", {})
    quoted = [
        name for name in schema.get("required", [])
        if isinstance(properties.get(name), dict) and properties[name].get("type") in _PLAIN
    ]
    values = ", ".join(
        f"{name}=${{steps.{draft.id}.output.{STRUCTURED}.{name}}}" for name in quoted)
    return f"{draft.capability.name} finished" + (f": {values}" if values else "")
