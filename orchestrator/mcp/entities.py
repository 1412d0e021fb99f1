"""The entities a tool step touched, kept in the graph as the built-in agents keep
theirs, so later plans can find them ("deploy my repo ...") and the graph shows
which server made what.

A tool says what it makes and needs only through its capability's `produces` and
`consumes` hints; the names come from the call, never from a guess:
- what it makes: its structured result's `name`, else its `name` argument, else
  the argument named after the kind (`repository`, `repo`, `repository_name`);
  claimed under the step's key, so a retried step finds its own entity;
- what it needs: the argument named after the kind, recorded as an entity made
  outside a run if the graph did not know it;
- any other argument named after a kind of the catalogue (`app` on a deploy
  tool): linked when the graph holds that entity, never created.
A name that is not an entity name (a path, a URL, "Prod") is left out. What it
makes `uses` what it needs. The undo of a step (its compensating tool) removes
what that step made, and only that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from orchestrator.agents.base import AgentResult, StepContext
from orchestrator.graph.store import GraphStore, Relation
from orchestrator.mcp.hub import McpHub
from orchestrator.models import Capability, EntityRef
from orchestrator.planning.tool_made import made, mentioned, needed

log = logging.getLogger(__name__)
USES = "uses"


class ToolEntities:
    """The hub as an agent runner, with the entities of each call kept in the graph."""

    def __init__(self, hub: McpHub, store: GraphStore, kinds: Callable[[], set[str]]) -> None:
        """`kinds`: the entity kinds the catalogue knows now (servers come and go)."""
        self._hub = hub
        self._store = store
        self._kinds = kinds

    async def run(
        self, capability: str, params: dict[str, Any], ctx: StepContext
    ) -> AgentResult:
        tool, output = await self._hub.call(capability, params, ctx)
        try:
            if ctx.undo:
                await self._unmake(tool.capability, params, ctx)
                return AgentResult(output=output)
            touched = await self._record(tool.capability, params, output, ctx)
        except Exception as err:  # the tool's work is done: the graph must not undo it
            log.warning("%s: the entities of step %s were not recorded: %s",
                        capability, ctx.owner, err)
            touched = []
        return AgentResult(output=output, operates_on=touched)

    async def _record(self, capability: Capability, params: dict[str, Any],
                      output: dict[str, Any], ctx: StepContext) -> list[EntityRef]:
        products = made(capability, params, output)
        for ref in products:
            await self._store.claim_entity(ref, ctx.owner, {"tool": capability.name})
        inputs = needed(capability, params)
        for ref in inputs:
            await self._store.claim_entity(ref, "", {})
        known = [ref for ref in mentioned(capability, params, self._kinds())
                 if await self._store.get_entity(ref) is not None]
        uses = [Relation(source=p, type=USES, target=i) for p in products for i in inputs]
        if uses:
            await self._store.relate(uses, ctx.owner)
        return list({ref.key: ref for ref in (*products, *inputs, *known)}.values())

    async def _unmake(self, undo: Capability, params: dict[str, Any], ctx: StepContext
                      ) -> None:
        """Remove what the undone step made: the kinds made by the tools this one
        undoes, named by this call's arguments, if that step made them."""
        for capability in self._hub.capabilities:
            if capability.compensation == undo.name:
                for ref in made(capability, params):
                    await self._store.release_entity(ref, ctx.owner)
