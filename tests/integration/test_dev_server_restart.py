"""The dev server `orchestrator up` started dies under it (kill -9): `up` starts it
again and the run it held completes. Meanwhile a second `up` on the same data
directory is refused before it starts a dev server of its own; and an API whose
Temporal does not answer says so with a 503."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import HTTPException
from temporalio.client import Client

from api import run_state
from api.run_state import run_result
from orchestrator.devserver import DevServer, free_port
from orchestrator.models import OrchestrationRequest
from orchestrator.settings import Settings
from tests.command_line import start_up
from tests.integration.stack import S1, api_only
from worker.client import connect
from workflows.orchestration import OrchestrationWorkflow


def _children(pid: int) -> list[int]:
    """`pid`'s children; none once it has exited, which the caller may not have
    reaped yet (its returncode still None)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listed:
            return [int(child) for child in listed.read().split()]
    except FileNotFoundError:
        return []


async def _state(http: httpx.AsyncClient, path: str) -> dict[str, object] | None:
    """The API's answer, or None while it (or Temporal behind it) does not answer."""
    try:
        reply = await http.get(path)
    except httpx.TransportError:
        return None
    if reply.status_code == 503:
        return None
    assert reply.status_code == 200, reply.text
    answer: dict[str, object] = reply.json()
    return answer


def _env(data_dir: Path) -> dict[str, str]:
    """`up` on its own dev server, on free ports, keeping its state in `data_dir`."""
    return {
        **{k: v for k, v in os.environ.items() if k != "ORCHESTRATOR_TEMPORAL_ADDRESS"},
        "ORCHESTRATOR_TEMPORAL_PORT": str(free_port()),
        "ORCHESTRATOR_TEMPORAL_UI_PORT": str(free_port()),
        "ORCHESTRATOR_DATA_DIR": str(data_dir),
    }


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def _until_healthy(
    http: httpx.AsyncClient, up: asyncio.subprocess.Process, log: Path
) -> None:
    async with asyncio.timeout(60):
        while await _state(http, "/healthz") is None:
            assert up.returncode is None, _tail(log)
            await asyncio.sleep(0.2)


async def test_up_starts_its_dev_server_again_and_the_run_completes(tmp_path: Path) -> None:
    env = {
        **_env(tmp_path),
        # Slow, so that the kill lands while the run is going.
        "ORCHESTRATOR_AGENT_FAULTS": json.dumps({"service.create": {"delay_ms": 3000}}),
    }
    log, port = tmp_path / "up.log", free_port()
    up = await start_up(env, log, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            await _until_healthy(http, up, log)
            reply = await http.post("/v3/ai/chat", json={"message": S1})
            assert reply.status_code == 200, reply.text
            workflow_id = reply.json()["workflow_id"]

            # A second `up` on this data directory is refused before it starts a dev
            # server of its own on the same Temporal database.
            second_log = tmp_path / "second.log"
            second = await start_up({**env, "ORCHESTRATOR_TEMPORAL_PORT": str(free_port()),
                                "ORCHESTRATOR_TEMPORAL_UI_PORT": str(free_port())},
                               second_log, free_port())
            async with asyncio.timeout(60):
                assert await second.wait() == 1
            told = second_log.read_text()
            assert "is open in another process" in told, told
            assert "Temporal dev server on" not in told, told

            # A caller waiting for a run's end (`wait`), sent without a key: told the
            # end, not to send it again (which would start a second run).
            waiting = asyncio.create_task(http.post("/v3/ai/chat", json={
                "message": "create application lab with cache service", "wait": True}))
            await asyncio.sleep(1.0)  # started, and inside its slow service step

            (dev_server,) = _children(up.pid)
            os.kill(dev_server, signal.SIGKILL)
            async with asyncio.timeout(90):
                while True:
                    state = await _state(http, f"/v1/workflows/{workflow_id}")
                    if state is not None and state["status"] not in ("running", "planning"):
                        break
                    assert up.returncode is None, log.read_text()[-3000:]
                    await asyncio.sleep(0.3)
                waited = await waiting
    finally:
        if up.returncode is None:
            up.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                await up.wait()
    logged = log.read_text()
    assert state["status"] == "completed", state
    assert waited.status_code == 200, waited.text
    assert waited.json()["result"]["status"] == "completed", waited.text
    assert "the Temporal dev server exited (code -9" in logged, logged[-3000:]
    assert "the Temporal dev server is back on" in logged, logged[-3000:]
    assert up.returncode == 143, logged[-3000:]  # and it still stops cleanly


async def test_the_api_answers_503_while_temporal_does_not_answer(tmp_path: Path) -> None:
    server = DevServer(free_port())
    await server.start()
    settings = Settings(temporal_address=server.address, data_dir=tmp_path)
    client: Client = await connect(settings)
    try:
        async with api_only(settings, client, tmp_path / "graph.lbug") as http:
            assert (await http.get("/healthz")).status_code == 200
            await server.stop()
            health = await http.get("/healthz")
            began = time.monotonic()
            run = await http.get("/v1/workflows/run-anything")
            chat = await http.post("/v3/ai/chat", json={"message": "create application x"})
            took = time.monotonic() - began
    finally:
        await server.stop()
    for reply in (health, run, chat):
        assert reply.status_code == 503, reply.text
        assert reply.json()["detail"].startswith(
            f"Temporal at {server.address} does not answer"), reply.text
    # Told at once, not after the client's retries (a chat waited ~19 s for its 503):
    # a bound far above once and far below retried, not a speed target.
    assert took < 5, took


async def test_up_whose_dev_server_keeps_dying_stops_saying_why(tmp_path: Path) -> None:
    env = _env(tmp_path)
    log, port = tmp_path / "up.log", free_port()
    up = await start_up(env, log, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            await _until_healthy(http, up, log)
        killed: set[int] = set()
        async with asyncio.timeout(90):
            while up.returncode is None:
                for child in set(_children(up.pid)) - killed:
                    with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
                        os.kill(child, signal.SIGKILL)
                    killed.add(child)
                await asyncio.sleep(0.2)
    finally:
        if up.returncode is None:
            up.kill()
        await up.wait()
    logged = log.read_text()
    assert "stopping: the Temporal dev server keeps exiting" in logged, logged[-3000:]
    # Nobody sent it a signal, and it does not say one came.
    assert "SIGTERM received" not in logged, logged[-3000:]


async def test_a_caller_waiting_on_a_run_is_told_the_run_not_to_send_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temporal stops answering while a run's end is waited for, and stays down: the
    503 names the run, which started, rather than asking for the request again."""
    monkeypatch.setattr(run_state, "WAIT_THROUGH_S", 1.0)
    server = DevServer(free_port())
    await server.start()
    settings = Settings(temporal_address=server.address, data_dir=tmp_path)
    client: Client = await connect(settings)
    try:
        # No worker takes it: the run waits, started, for as long as the test needs.
        handle = await client.start_workflow(
            OrchestrationWorkflow.run, OrchestrationRequest(message=S1),
            id=f"run-{uuid.uuid4()}", task_queue="nobody")
        waiting = asyncio.create_task(run_result(handle))
        await asyncio.sleep(0.5)
        await server.stop()
        with pytest.raises(HTTPException) as told:
            async with asyncio.timeout(120):
                await waiting
    finally:
        await server.stop()
    assert told.value.status_code == 503
    detail = str(told.value.detail)
    assert detail.startswith(f"run {handle.id} started, but Temporal stopped answering"), detail
    assert detail.endswith("the request sent again would start another run"), detail
