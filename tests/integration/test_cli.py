"""`orchestrator up` and `orchestrator chat` as a user runs them, in subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import httpx

from orchestrator.devserver import DevServer, free_port


async def _cli(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", *args, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode()


async def test_up_serves_and_chat_follows_a_run(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address,
        "ORCHESTRATOR_TASK_QUEUE": f"cli-{uuid.uuid4()}",
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
    }
    up = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "up", "--api-port", str(port), env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=api) as http, asyncio.timeout(30):
            while True:
                try:
                    health = await http.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
        assert health.json()["status"] == "ok"

        code, out = await _cli(
            "chat", "create application shop with payment service", "--api", api, env=env
        )
        assert code == 0, out
        assert "Plan: 2 steps" in out
        assert "✓ create-service-payment: completed" in out
        assert "Outcome: completed" in out
        assert "Temporal Web UI: http://localhost:8233/namespaces/default/workflows/run-" in out

        code, out = await _cli("chat", "make me a sandwich", "--api", api, env=env)
        assert code == 2
        assert "Refused: cannot plan" in out and "sandwich" in out
    finally:
        up.send_signal(signal.SIGINT)
        await asyncio.wait_for(up.wait(), timeout=20)
