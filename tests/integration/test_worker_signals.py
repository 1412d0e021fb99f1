"""`orchestrator worker` and `orchestrator up` stop cleanly on SIGINT and SIGTERM,
also when their parent left SIGINT ignored (as a shell does for a job it starts
in the background)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest

from orchestrator.devserver import DevServer, free_port
from orchestrator.graph.embedded import EmbeddedGraphStore

# What each command logs once it is up.
READY = {"worker": "worker on task queue", "up": "API on http"}


def _logged(log: Path) -> str:
    """The worker's log so far (a few KB: read at once)."""
    return log.read_text()


async def _until_ready(
    command: list[str], env: dict[str, str], log: Path
) -> asyncio.subprocess.Process:
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", *command, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT,
        # What a background job of a non-interactive shell inherits.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    async with asyncio.timeout(60):
        while READY[command[0]] not in _logged(log):
            assert worker.returncode is None, _logged(log)[-3000:]
            await asyncio.sleep(0.1)
    return worker


@pytest.mark.parametrize(("command", "stop", "code"), [
    ("worker", signal.SIGINT, 130), ("worker", signal.SIGTERM, 143), ("up", signal.SIGINT, 130),
])
async def test_a_stop_signal_stops_the_command_cleanly(
    temporal_server: DevServer, tmp_path: Path, command: str, stop: signal.Signals, code: int
) -> None:
    env = {
        **os.environ,
        "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address,
        "ORCHESTRATOR_TASK_QUEUE": f"signals-{uuid.uuid4()}",
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
    }
    log = tmp_path / "worker.log"
    args = [command, "--api-port", str(free_port())] if command == "up" else [command]
    worker = await _until_ready(args, env, log)
    try:
        worker.send_signal(stop)
        async with asyncio.timeout(30):
            assert await worker.wait() == code, _logged(log)[-3000:]
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    assert "Traceback" not in _logged(log), _logged(log)[-3000:]
    # Closed cleanly: the embedded graph opens again at once (no lock left behind).
    store = EmbeddedGraphStore(tmp_path / "graph.lbug")
    await store.setup()
    await store.close()
