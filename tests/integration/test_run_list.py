"""GET /v1/workflows lists the runs from Temporal's visibility: by status and
tenant, page by page, a run ended from outside told as such; bad filters refused."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError

from api.app import create_app
from orchestrator.agents.faults import Fault
from orchestrator.api_client import run_line
from orchestrator.devserver import DevServer
from orchestrator.models import RunStatus
from orchestrator.settings import Settings
from tests.integration.stack import S1, running_stack, start, wait_until
from worker.runtime import build_runtime

S2 = "create application shop with payment service"
BROKEN = Fault(fail_attempts=1, non_retryable=True)


async def listed(http: httpx.AsyncClient, until: Any, **params: Any) -> list[dict[str, Any]]:
    """The runs listed, polled until `until(runs)` holds (visibility lags a little)."""
    async with asyncio.timeout(20):
        while True:
            reply = await http.get("/v1/workflows", params={"limit": 100, **params})
            assert reply.status_code == 200, reply.text
            runs: list[dict[str, Any]] = reply.json()["runs"]
            if until(runs):
                return runs
            await asyncio.sleep(0.2)


def ids(runs: list[dict[str, Any]]) -> list[str]:
    return [r["workflow_id"] for r in runs]


async def test_runs_are_listed_by_status_and_tenant_page_by_page(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    tenant = f"t{uuid.uuid4().hex[:12]}"  # other tests' runs share the server
    faults = {"deployment.create": BROKEN}
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=faults) as s:
        done = (await s.http.post("/v3/ai/chat", json={
            "message": S2, "wait": True, "tenant": tenant})).json()["workflow_id"]
        failed = (await s.http.post("/v3/ai/chat", json={
            "message": S1, "wait": True, "tenant": tenant})).json()["workflow_id"]
        waiting = await start(s.http, S1, tenant=tenant, require_approval=True)
        await wait_until(s.http, waiting, lambda r: r.status == RunStatus.AWAITING_APPROVAL)

        runs = await listed(s.http, lambda r: len(r) == 3 and all(
            x["status"] in ("completed", "rolled_back", "awaiting_approval") for x in r),
            tenant=tenant)
        by_id = {r["workflow_id"]: r for r in runs}
        assert by_id[done]["status"] == "completed"
        assert by_id[failed]["status"] == "rolled_back"
        assert by_id[waiting]["status"] == "awaiting_approval"
        assert by_id[waiting]["execution_status"] == "running"
        assert by_id[done]["execution_status"] == "completed"
        assert by_id[done]["tenant"] == tenant and by_id[done]["intent"]
        assert by_id[done]["closed_at"] and by_id[waiting]["closed_at"] is None
        assert by_id[done]["web_ui_url"].endswith("/history")
        assert ids(runs)[0] == waiting  # runs still going come first

        for status, expected in (("completed", done), ("rolled_back", failed),
                                 ("awaiting_approval", waiting)):
            reply = await s.http.get("/v1/workflows", params={"status": status,
                                                              "tenant": tenant})
            assert ids(reply.json()["runs"]) == [expected], status

        seen: list[str] = []
        token: str | None = None
        for _ in range(3):
            params: dict[str, str | int] = {"tenant": tenant, "limit": 1}
            if token:
                params["page_token"] = token
            page = (await s.http.get("/v1/workflows", params=params)).json()
            seen += ids(page["runs"])
            token = page["next_page_token"]
        assert sorted(seen) == sorted([done, failed, waiting])
        # A token goes with the filters it was given for.
        first = (await s.http.get("/v1/workflows", params={"tenant": tenant, "limit": 1})
                 ).json()
        elsewhere = await s.http.get("/v1/workflows", params={
            "limit": 1, "page_token": first["next_page_token"]})
        assert elsewhere.status_code == 400 and "for these filters" in (
            elsewhere.json()["detail"])
        if token is not None:  # visibility may not know the last page was the last
            last = (await s.http.get("/v1/workflows", params={
                "tenant": tenant, "limit": 1, "page_token": token})).json()
            assert last["runs"] == [] and last["next_page_token"] is None

        # Ended from outside: no longer awaiting anything, and listed as terminated.
        await client.get_workflow_handle(waiting).terminate("test")
        runs = await listed(s.http, lambda r: any(
            x["workflow_id"] == waiting and x["execution_status"] == "terminated" for x in r),
            tenant=tenant)
        assert {r["workflow_id"]: r["status"] for r in runs}[waiting] is None
        reply = await s.http.get("/v1/workflows", params={"status": "awaiting_approval",
                                                          "tenant": tenant})
        assert reply.json()["runs"] == []
        # Its own view ends too, so that whoever follows it stops waiting.
        state = (await s.http.get(f"/v1/workflows/{waiting}")).json()
        assert state["status"] == "failed" and state["finished_at"], state
        assert state["problem"]["kind"] == "terminated"
        assert "nothing was rolled back" in state["problem"]["message"]
        # Nor can it be cancelled, approved or rejected: each says how it ended.
        cancel = await s.http.post(f"/v1/workflows/{waiting}/cancel")
        assert cancel.status_code == 409, cancel.text
        assert cancel.json()["detail"] == (
            f"run {waiting} has already ended: the run was terminated from outside "
            "(Temporal): its steps stopped where they were and nothing was rolled back")
        for answer in ("approve", "reject"):
            reply = await s.http.post(f"/v1/workflows/{waiting}/{answer}")
            assert reply.status_code == 409, reply.text
            assert reply.json()["detail"].startswith(
                f"run {waiting} was terminated from outside (Temporal)"), reply.text
        # Nothing waits for its approval any more, and it is followed as an ended run.
        assert {a["status"] for a in state["approvals"].values()} == {"withdrawn"}, state
        followed = await s.http.post("/v3/ai/chat", json={
            "message": "create application later", "conversation_id": waiting,
            "tenant": tenant, "wait": True})
        assert followed.status_code == 200, followed.text
        assert followed.json()["follows"] == waiting


async def test_bad_filters_are_refused_naming_them(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        reply = await s.http.get("/v1/workflows", params={"status": "stopping"})
        assert reply.status_code == 400 and "stopping" in reply.json()["detail"]
        reply = await s.http.get("/v1/workflows", params={"page_token": "%%%"})
        assert reply.status_code == 400 and "page_token" in reply.json()["detail"]
        reply = await s.http.get("/v1/workflows", params={"page_token": "bm90IGEgdG9rZW4="})
        assert reply.status_code == 400 and "page_token" in reply.json()["detail"]
        for params in ({"status": "done"}, {"tenant": "a' OR '1'='1"}, {"limit": 0},
                       {"limit": 101}):
            reply = await s.http.get("/v1/workflows", params=params)
            assert reply.status_code == 422, params
            assert reply.json()["detail"][0]["loc"][-1] == next(iter(params)), params


async def test_a_dry_run_is_listed_as_one(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    tenant = f"t{uuid.uuid4().hex[:12]}"
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        dry = (await s.http.post("/v3/ai/chat", json={
            "message": S2, "dry_run": True, "tenant": tenant})).json()["workflow_id"]
        real = (await s.http.post("/v3/ai/chat", json={
            "message": S2, "wait": True, "tenant": tenant})).json()["workflow_id"]
        runs = await listed(s.http, lambda r: len(r) == 2 and all(
            x["status"] == "completed" for x in r), tenant=tenant)
    by_id = {r["workflow_id"]: r for r in runs}
    assert by_id[dry]["dry_run"] is True and by_id[real]["dry_run"] is False
    # As `orchestrator runs` prints them.
    assert "(dry run) " in run_line(by_id[dry]) and "(dry run)" not in run_line(by_id[real])


async def test_a_run_still_planning_is_listed_as_planning_with_its_tenant(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    """No worker has taken the run yet (as while a slow model plans): it is listed
    as planning, under its tenant, not with nulls a filter cannot find."""
    tenant = f"t{uuid.uuid4().hex[:12]}"
    settings = Settings(temporal_address=temporal_server.address, data_dir=tmp_path,
                        task_queue=f"test-{uuid.uuid4()}")
    runtime = await build_runtime(settings)
    app = create_app(settings, client, runtime.store, runtime.hub)
    try:
        async with (app.router.lifespan_context(app),
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                      base_url="http://api", timeout=60) as http):
            # Answered once the plan is known: never, with no worker.
            sent = asyncio.create_task(http.post("/v3/ai/chat", json={
                "message": S2, "tenant": tenant}, headers={"Idempotency-Key": tenant}))
            runs = await listed(http, lambda r: len(r) == 1, tenant=tenant)
            assert runs[0]["status"] == "planning" and runs[0]["tenant"] == tenant
            reply = await http.get("/v1/workflows", params={"status": "planning",
                                                            "tenant": tenant})
            assert ids(reply.json()["runs"]) == ids(runs)
            sent.cancel()
            # The app tells its cancelled wait for the plan as the SDK raised it.
            with contextlib.suppress(asyncio.CancelledError,
                                     WorkflowUpdateRPCTimeoutOrCancelledError):
                await sent
            await client.get_workflow_handle(runs[0]["workflow_id"]).terminate("test")
    finally:
        await runtime.close()
