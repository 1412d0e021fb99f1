"""Running the `orchestrator` command as a user does: in a process of its own."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """Exit code and output (stdout and stderr together) of `orchestrator <args>`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", *args, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode()


async def start_up(env: dict[str, str], log: Path, api_port: int) -> asyncio.subprocess.Process:
    """`orchestrator up` in a process of its own, its output (both streams) in `log`."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "up", "--api-port", str(api_port), env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=log.open("ab"),
        stderr=asyncio.subprocess.STDOUT,
    )


async def until_healthy(api: str, wait_s: float = 30.0) -> httpx.Response:
    """The API's first answer to /healthz, once it listens."""
    async with httpx.AsyncClient(base_url=api) as http, asyncio.timeout(wait_s):
        while True:
            try:
                return await http.get("/healthz")
            except httpx.TransportError:
                await asyncio.sleep(0.2)
