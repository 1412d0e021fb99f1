"""The shape the model must answer in, sent as a strict JSON schema (structured output).

Every field is required and no object takes extra keys, as strict mode demands; the
qualifiers are key/value pairs rather than a free-form object for the same reason.
"""

from __future__ import annotations

from orchestrator.models import Model
from orchestrator.planning.parser import Action


class Qualifier(Model):
    key: str
    value: str


class RequestedAction(Model):
    """One thing the request asks for: `verb` is the last part of a capability's name,
    `kind` the entity kind it produces, `name` that entity's name."""

    verb: str
    kind: str
    name: str
    qualifiers: list[Qualifier]

    def to_action(self) -> Action:
        return Action(verb=self.verb, kind=self.kind, name=self.name,
                      qualifiers={q.key: q.value for q in self.qualifiers})

    def describe(self) -> str:
        return f"{self.verb} {self.kind} {self.name}"


class EntityMention(Model):
    """An existing entity the request refers to."""

    kind: str
    name: str


class PlanningAnswer(Model):
    actions: list[RequestedAction]
    references: list[EntityMention]
    # Parts of the request no capability can do; empty when all of it is understood.
    not_understood: list[str]
