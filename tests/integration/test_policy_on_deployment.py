"""A policy applied to a deployment an earlier run made, through the API on the real
dev server."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from api.schemas import EntityDetail
from orchestrator.devserver import DevServer
from orchestrator.graph.store import Relation
from orchestrator.models import EntityRef, RunResult, RunStatus
from tests.integration.stack import S1, running_stack

DEP = EntityRef(kind="deployment", name="ecommerce-production")
AUDIT = EntityRef(kind="policy", name="audit-ecommerce-production")


async def test_a_policy_request_guards_the_deployment_an_earlier_run_made(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        first = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True})
        assert first.status_code == 200, first.text
        reply = await s.http.post("/v3/ai/chat", json={
            "message": "apply an audit policy to ecommerce in production", "wait": True,
        })
        assert reply.status_code == 200, reply.text
        result = RunResult.model_validate(reply.json()["result"])
        detail = EntityDetail.model_validate(
            (await s.http.get("/v1/graph/entities/deployment/ecommerce-production")).json()
        )
        missing = await s.http.post("/v3/ai/chat", json={
            "message": "apply an audit policy to ecommerce in staging",
        })
    assert result.status == RunStatus.COMPLETED and result.plan is not None
    assert [(st.capability, st.parameters, st.depends_on) for st in result.plan.steps] == [
        ("policy.apply", {"deployment": "ecommerce-production", "policy": "audit"}, []),
    ]
    assert Relation(source=DEP, type="has_policy", target=AUDIT) in detail.relations
    # Nothing makes a deployment a policy names: one that is not there is refused.
    assert missing.status_code == 422, missing.text
    assert "deployment ecommerce-staging, which does not exist" in missing.text
