"""Running the `orchestrator` command as a user does: in a process of its own."""

from __future__ import annotations

import asyncio
import sys


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """Exit code and output (stdout and stderr together) of `orchestrator <args>`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", *args, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode()
