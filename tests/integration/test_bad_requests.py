"""Bad input gets a 4xx naming what is wrong, and starts nothing that runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from orchestrator.devserver import DevServer
from tests.integration.stack import running_stack

BAD_BODIES: list[tuple[Any, str]] = [
    ({"message": ""}, "message"),
    ({"message": "   "}, "message is empty"),
    ({"message": 42}, "message"),
    ({"message": "create app shop", "wait": "yes"}, "wait"),
    ({}, "message"),
    ({"message": "create app shop", "dry": True}, "dry"),
]


@pytest.mark.parametrize(("body", "named"), BAD_BODIES)
async def test_chat_rejects_malformed_body(
    client: Client, temporal_server: DevServer, tmp_path: Path, body: Any, named: str
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        reply = await s.http.post("/v3/ai/chat", json=body)
        assert reply.status_code == 422
        assert named in reply.text


async def test_a_message_over_the_limit_is_named_not_echoed(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": "create " * 100_000})
        assert reply.status_code == 422
        [error] = reply.json()["detail"]
        assert error["loc"] == ["body", "message"]
        assert "at most 4000 characters" in error["msg"]
        assert error["input"].endswith("... (700000 characters)")
        assert len(reply.content) < 1_000


async def test_a_run_id_over_the_limit_is_refused_on_every_route(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    long = "x" * 20_000
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        for method, path in [("GET", f"/v1/workflows/{long}"),
                             ("POST", f"/v1/workflows/{long}/approve"),
                             ("POST", f"/v1/workflows/{long}/reject"),
                             ("POST", f"/v1/workflows/{long}/cancel"),
                             ("GET", f"/v1/graph/workflows/{long}")]:
            reply = await s.http.request(method, path)
            assert reply.status_code == 422, (path[:40], reply.status_code)
            assert "at most 200 characters" in reply.text and len(reply.content) < 1_000


async def test_chat_rejects_malformed_json(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        reply = await s.http.post(
            "/v3/ai/chat", content=b'{"message": "create',
            headers={"content-type": "application/json"},
        )
        assert reply.status_code == 422
        assert "json" in reply.text.lower()


@pytest.mark.parametrize(
    ("message", "understood", "not_understood"),
    [
        ("make me a sandwich", [], ["sandwich"]),
        ("create application shop and order a pizza", ["create application shop"],
         ["order", "pizza"]),
        ("create application shop'; DROP DATABASE neo4j", ["create application shop"],
         ["drop", "database", "neo4j"]),
        # Not told back as "create application shop": the opposite of what was asked.
        ("delete application shop", [], ["delete"]),
    ],
)
async def test_chat_refuses_unplannable_request(
    client: Client, temporal_server: DevServer, tmp_path: Path,
    message: str, understood: list[str], not_understood: list[str],
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": message})
        assert reply.status_code == 422
        detail = reply.json()
        assert detail["detail"].startswith("cannot plan")
        assert detail["problem"]["understood"] == understood
        assert detail["problem"]["not_understood"] == not_understood
        # Nothing was half done: no step ran, no entity exists.
        state = await s.http.get(f"/v1/workflows/{detail['workflow_id']}")
        assert state.json()["steps"] == {}
        assert await s.runtime.store.find_entities() == []


async def test_chat_rejects_bad_idempotency_key(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        reply = await s.http.post(
            "/v3/ai/chat", json={"message": "create app shop"},
            headers={"Idempotency-Key": "a b;c"},
        )
        assert reply.status_code == 422
        assert "Idempotency-Key" in reply.text
        # Two keys: only one would have counted.
        twice = await s.http.post(
            "/v3/ai/chat", json={"message": "create app shop"},
            headers=[("Idempotency-Key", "k1"), ("Idempotency-Key", "k2")],
        )
        assert twice.status_code == 422, twice.text
        assert twice.json()["detail"] == "Idempotency-Key: send one key, not several"
        assert (await s.http.get("/v1/workflows/run-k1")).status_code == 404


async def test_a_plan_over_budget_is_refused_with_the_reason_in_its_first_line(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path, max_steps=5) as s:
        reply = await s.http.post("/v3/ai/chat", json={
            "message": "Create application ecommerce with payment service, deploy to "
                       "production with monitoring and security policies"})
        assert reply.status_code == 422, reply.text
        body = reply.json()
        # The graph's record says why in full too (its final mirror is written after).
        async with asyncio.timeout(10):
            # Polling: the mirror's write has no event the test can wait on.
            while (await s.http.get(f"/v1/graph/workflows/{body['workflow_id']}")  # noqa: ASYNC110
                   ).json().get("error") is None:
                await asyncio.sleep(0.1)
        view = (await s.http.get(f"/v1/graph/workflows/{body['workflow_id']}")).json()
    assert body["detail"] == "the plan is not valid: the plan has 6 steps; the budget allows 5"
    assert body["problem"]["details"] == ["the plan has 6 steps; the budget allows 5"]
    assert view["error"] == body["detail"]
    # The plan refused comes with it, so that the request can be cut to fit.
    refused = body["plan"]["steps"]
    assert [s["id"] for s in refused] == [
        "create-application-ecommerce", "create-service-payment",
        "ensure-environment-production", "deploy-deployment-ecommerce-production",
        "apply-policy-monitoring", "apply-policy-security"], refused
    assert refused[1]["depends_on"] == ["create-application-ecommerce"]


async def test_a_long_unplannable_message_is_not_echoed_back_whole(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    words = [f"blorp{i}" for i in range(300)]
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": " ".join(words)})
        assert reply.status_code == 422, reply.text
        # The first words say what went wrong; the rest are counted.
        assert reply.json()["problem"]["not_understood"] == words[:20]
        assert f"Not understood: {', '.join(words[:20])} and 280 more." in reply.json()["detail"]
        assert len(reply.text) < 2_000, len(reply.text)
