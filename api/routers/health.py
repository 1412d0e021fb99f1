"""`GET /healthz`: the process is up and Temporal answers."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import TemporalClientDep
from api.errors import described

router = APIRouter(tags=["health"])


@router.get("/healthz", responses=described(503))
async def healthz(client: TemporalClientDep) -> dict[str, str]:
    """Ok when the Temporal client can reach its server."""
    await client.service_client.check_health()
    return {"status": "ok", "namespace": client.namespace}
