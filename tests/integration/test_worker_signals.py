"""The worker process stops cleanly on SIGINT and SIGTERM, also when its parent
left SIGINT ignored (as a shell does for a job it starts in the background)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest

from orchestrator.devserver import DevServer
from orchestrator.graph.embedded import EmbeddedGraphStore

READY = "worker on task queue"


def _logged(log: Path) -> str:
    """The worker's log so far (a few KB: read at once)."""
    return log.read_text()


async def _worker_until_ready(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "worker", env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT,
        # What a background job of a non-interactive shell inherits.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    async with asyncio.timeout(60):
        while READY not in _logged(log):
            assert worker.returncode is None, _logged(log)[-3000:]
            await asyncio.sleep(0.1)
    return worker


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
async def test_the_worker_stops_cleanly_on_a_stop_signal(
    temporal_server: DevServer, tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    env = {
        **os.environ,
        "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address,
        "ORCHESTRATOR_TASK_QUEUE": f"signals-{uuid.uuid4()}",
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
    }
    log = tmp_path / "worker.log"
    worker = await _worker_until_ready(env, log)
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
