"""Who holds an entity or a relationship, and what letting go of it leaves.

The step that made a thing holds it (`created_by`), and so does every step that
found it made and relied on it (`users`): "create application shop with payment
service" run while another run's step is making `payment` finds it, and its own
run completes with it. An undo lets go of its step's hold only. What its step made
is removed when nobody else holds it; otherwise it passes to the first that still
does, who made it as far as anyone's undo is concerned. So a run's rollback never
takes away what another run relies on, and the last to let go leaves nothing
behind. A thing made outside any run (`created_by` "") is never removed by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.graph import queries as q
from orchestrator.graph.rows import Write
from orchestrator.graph.store import Released


@dataclass(frozen=True)
class Hold:
    """Who made a thing, and who else relies on it."""

    created_by: str
    users: tuple[str, ...]


def let_go(hold: Hold, owner: str) -> Hold | None:
    """The hold once `owner` lets go; None when nobody holds it any more."""
    users = tuple(u for u in hold.users if u != owner)
    if hold.created_by != owner:
        return Hold(hold.created_by, users)
    if users:
        return Hold(users[0], users[1:])
    return None


def entity_writes(entity_id: str, created_by: str | None, users: Sequence[str] | None,
                  owner: str) -> tuple[list[Write], Released]:
    """The writes that let go of `owner`'s hold on an entity HELD_ENTITIES read."""
    hold = _hold(created_by, users)
    after = let_go(hold, owner)
    if after is None:
        return [(q.DELETE_ENTITY, {"id": entity_id})], Released(deleted=True)
    passed = after.created_by if after.created_by != hold.created_by else None
    writes = [] if after == hold else [
        (q.SET_ENTITY_HOLDS, {"id": entity_id, "created_by": after.created_by,
                              "users": list(after.users)})]
    return writes, Released(deleted=False, kept_for=passed)


def relation_writes(rows: Sequence[Sequence[Any]], owner: str) -> list[Write]:
    """The writes that let go of `owner`'s holds on the relationships HELD_RELATIONS
    read (each once)."""
    writes: list[Write] = []
    for source, kind, target, created_by, users in rows:
        hold = _hold(created_by, users)
        after = let_go(hold, owner)
        where = {"source": source, "type": kind, "target": target}
        if after is None:
            writes.append((q.DELETE_RELATION, where))
        elif after != hold:
            writes.append((q.SET_RELATION_HOLDS, {**where, "created_by": after.created_by,
                                                  "users": list(after.users)}))
    return writes


def _hold(created_by: str | None, users: Sequence[str] | None) -> Hold:
    # Made before holds were kept: as if outside any run, so never removed by one.
    return Hold(created_by or "", tuple(users or ()))
