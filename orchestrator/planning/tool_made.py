"""What a tool call makes, needs and mentions, by its capability's `produces` and
`consumes` hints and the call's arguments: the rule the tool step records the
graph by (orchestrator.mcp.entities), and the planner foresees it by."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orchestrator.models import Capability, EntityRef, is_valid_name
from orchestrator.planning.tool_values import kind_of


def _entity_name(value: Any) -> str | None:
    return value if isinstance(value, str) and is_valid_name(value) else None


def _names_kind(param: str, kind: str) -> bool:
    return param != "name" and (kind_of(param) == kind or param == f"{kind}_name")


def _by_kind(kind: str, params: dict[str, Any]) -> str | None:
    for param in sorted(params):
        if _names_kind(param, kind) and _entity_name(params[param]):
            return str(params[param])
    return None


def made(capability: Capability, params: dict[str, Any],
         output: dict[str, Any] | None = None) -> list[EntityRef]:
    """What the call made, by the capability's `produces`. Only the first kind may
    take the result's or the call's `name`: it is what the tool is about."""
    refs = []
    for i, kind in enumerate(capability.produces):
        name = None
        if i == 0:
            structured = (output or {}).get("structured_content")
            said = structured.get("name") if isinstance(structured, dict) else None
            name = _entity_name(said) or _entity_name(params.get("name"))
        name = name or _by_kind(kind, params)
        if name is not None:
            refs.append(EntityRef(kind=kind, name=name))
    return refs


def needed(capability: Capability, params: dict[str, Any]) -> list[EntityRef]:
    """What the call used, by the capability's `consumes`."""
    found = ((kind, _by_kind(kind, params)) for kind in capability.consumes)
    return [EntityRef(kind=kind, name=name) for kind, name in found if name is not None]


def mentioned(capability: Capability, params: dict[str, Any], kinds: Iterable[str]
              ) -> list[EntityRef]:
    """Arguments named after another kind of the catalogue: entities the call may
    be about, if the graph holds them."""
    declared = {*capability.produces, *capability.consumes}
    refs = []
    for param in sorted(params):
        kind = kind_of(param)
        name = _entity_name(params[param])
        if param != "name" and kind in kinds and kind not in declared and name:
            refs.append(EntityRef(kind=kind, name=name))
    return refs
