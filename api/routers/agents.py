"""`GET /v1/agents`: the agents the graph knows, what they provide and how it went."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import StoreDep
from orchestrator.graph.store import AgentRecord

router = APIRouter(prefix="/v1/agents", tags=["agents"])


@router.get("", response_model=list[AgentRecord])
async def list_agents(store: StoreDep) -> list[AgentRecord]:
    """Every agent by id, with each capability it provides and its observed outcomes."""
    return await store.list_agents()
