"""Plan reuse through the real worker: a request shaped like one that completed is
planned from that run's plan (as the graph mirrored it) and runs to completion."""

from __future__ import annotations

from pathlib import Path

import httpx
from temporalio.client import Client

from orchestrator.devserver import DevServer
from orchestrator.graph.store import Relation
from orchestrator.models import EntityRef, RunResult, RunStatus
from tests.integration.stack import running_stack


async def _chat(http: httpx.AsyncClient, message: str) -> tuple[str, RunResult]:
    reply = await http.post("/v3/ai/chat", json={"message": message, "wait": True})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    return body["workflow_id"], RunResult.model_validate(body["result"])


async def test_a_completed_run_is_reused_for_a_request_of_its_shape(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        first_id, first = await _chat(s.http, "create application shop with payment service")
        assert first.status == RunStatus.COMPLETED
        assert first.plan is not None and first.plan.reused_from is None

        second_id, second = await _chat(s.http, "create application blog with comments service")
        assert second.status == RunStatus.COMPLETED
        assert second.plan is not None
        assert (second.plan.reused_from, second.plan.reuse_similarity) == (first_id, 1.0)
        assert [st.id for st in second.plan.steps] == [
            "create-application-blog", "create-service-comments"
        ]
        blog = EntityRef(kind="application", name="blog")
        comments = EntityRef(kind="service", name="comments")
        assert Relation(source=blog, type="owns", target=comments) in (
            await s.runtime.store.relations(blog)
        )
        assert (await s.runtime.store.run_graph(second_id)).status == "completed"


async def test_the_last_run_to_finish_is_reused_first(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        # Ids in the other order than the runs: the newest by id is the oldest run.
        for key, app in (("zz-first", "shop"), ("aa-second", "blog")):
            reply = await s.http.post(
                "/v3/ai/chat", headers={"Idempotency-Key": key},
                json={"message": f"create application {app} with api service", "wait": True},
            )
            assert reply.status_code == 200, reply.text
        _, third = await _chat(s.http, "create application wiki with web service")
    assert third.plan is not None and third.plan.reused_from == "run-aa-second"
