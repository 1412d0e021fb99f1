"""`orchestrator worker` and `orchestrator up` stop cleanly on SIGINT and SIGTERM,
also when their parent left SIGINT ignored (as a shell does for a job it starts
in the background), and on a terminal's Ctrl-C, which signals the whole process group."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest

from orchestrator.devserver import DevServer, free_port, listening
from orchestrator.graph.embedded import EmbeddedGraphStore

# What each command logs once it is up.
READY = {"worker": "worker on task queue", "up": "API on http", "api": "API on http"}


def _logged(log: Path) -> str:
    """The worker's log so far (a few KB: read at once)."""
    return log.read_text()


def _ignore_sigint() -> None:
    """What a background job of a non-interactive shell inherits."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


async def _until_ready(
    command: list[str], env: dict[str, str], log: Path, background: bool = True
) -> asyncio.subprocess.Process:
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", *command, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT,
        preexec_fn=_ignore_sigint if background else None,
        # A group of its own, as a terminal's foreground job has.
        start_new_session=not background,
    )
    try:
        async with asyncio.timeout(60):
            while READY[command[0]] not in _logged(log):
                assert worker.returncode is None, _logged(log)[-3000:]
                await asyncio.sleep(0.1)
    except BaseException:
        # Not left behind, running, by a test that failed here.
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
        raise
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
    assert f"{stop.name} received: stopping" in _logged(log)
    # Closed cleanly: the embedded graph opens again at once (no lock left behind).
    store = EmbeddedGraphStore(tmp_path / "graph.lbug")
    await store.setup()
    await store.close()


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGHUP, 129)])
async def test_the_terminal_stops_up_before_the_dev_server_it_started(
    tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    """A terminal's Ctrl-C (SIGINT) and its closing (SIGHUP) reach every process of
    the foreground group. The dev server `up` started must not take the signal and
    quit under the worker still stopping, nor outlive `up`."""
    temporal_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "ORCHESTRATOR_TEMPORAL_ADDRESS"},
        "ORCHESTRATOR_TEMPORAL_PORT": str(temporal_port),
        "ORCHESTRATOR_TEMPORAL_UI_PORT": str(free_port()),
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
    }
    log = tmp_path / "up.log"
    up = await _until_ready(["up", "--api-port", str(free_port())], env, log, background=False)
    try:
        os.killpg(up.pid, stop)
        async with asyncio.timeout(30):
            assert await up.wait() == code, _logged(log)[-3000:]
    finally:
        if up.returncode is None:
            os.killpg(up.pid, signal.SIGKILL)
            await up.wait()
    logged = _logged(log)
    assert "Traceback" not in logged and "WARN" not in logged, logged[-3000:]
    assert not listening(temporal_port), "the dev server outlived `up`"
