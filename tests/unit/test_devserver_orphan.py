"""A dev server started by a process that dies without stopping it (SIGKILL, a
crash) does not outlive it: left behind, it would hold the port."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.devserver import listening

OWNER = """
import asyncio, os, signal, sys
from orchestrator.devserver import DevServer, free_port

async def main() -> None:
    server = DevServer(free_port(), own_session=True)
    await server.start()
    print(server._process.pid, server.port, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def _gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return status.read_text().split("State:")[1].split()[0] == "Z"  # a zombie
    except (FileNotFoundError, IndexError):
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal")
def test_a_dev_server_dies_with_the_process_that_started_it() -> None:
    owner = subprocess.run([sys.executable, "-c", OWNER], capture_output=True, text=True,
                           timeout=60, cwd=Path(__file__).parents[2])
    assert owner.returncode == -9, owner.stderr
    pid, port = (int(v) for v in owner.stdout.split())
    deadline = time.monotonic() + 15
    while not (_gone(pid) and not listening(port)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(pid), f"the dev server {pid} outlived the process that started it"
    assert not listening(port)
