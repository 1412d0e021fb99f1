"""How the tests start MCP servers: the project's own (Python, stdio or HTTP) and
the pinned third-party ones (a PyPI package, and npm packages run with node)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.devserver import free_port

ROOT = Path(__file__).parents[2]
SERVERS_DIR = ROOT / "tests" / "mcp_servers"
NPM_SCOPE = SERVERS_DIR / "node_modules" / "@modelcontextprotocol"


def python_server(module: str, *args: str, **options: Any) -> dict[str, Any]:
    """An `mcpServers` entry that runs one of tests/mcp_servers over stdio."""
    entry: dict[str, Any] = {
        "command": sys.executable, "args": ["-m", f"tests.mcp_servers.{module}", *args],
        "cwd": str(ROOT),
    }
    if options:
        entry["orchestrator"] = options
    return entry


def cloud_with_prod(directory: Path, **options: Any) -> dict[str, Any]:
    """An `mcpServers` entry for the project's cloud over stdio, its state
    (`directory/cloud.json`) holding one cluster, prod."""
    state = directory / "cloud.json"
    state.write_text(json.dumps(
        {"clusters": {"prod": {"region": "eu-west-1", "nodes": 3, "deployments": {}}}}))
    return python_server("cloud_server", "--state", str(state), **options)


def ensure_npm_servers() -> None:
    """Install the pinned npm servers (`npm ci`) unless they already are."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise RuntimeError("the MCP tests need Node.js 20+ with npm on PATH")
    if (NPM_SCOPE / "server-everything" / "package.json").exists():
        return
    subprocess.run(
        [npm, "ci", "--prefix", str(SERVERS_DIR), "--no-audit", "--no-fund", "--loglevel=error"],
        check=True, timeout=600,
    )


def node_server(package: str, *args: str) -> dict[str, Any]:
    """An `mcpServers` entry that runs an installed npm server with node (no npx download)."""
    root = NPM_SCOPE / package
    bin_field = json.loads((root / "package.json").read_text())["bin"]
    script = bin_field if isinstance(bin_field, str) else next(iter(bin_field.values()))
    node = shutil.which("node")
    assert node is not None
    return {"command": node, "args": [str(root / script), *args]}


class HttpServerProcess:
    """A test server in its own process, on streamable HTTP; it can be killed and
    started again on the same port, as a crashed and restarted service would be."""

    def __init__(self, module: str, state: Path) -> None:
        self.module = module
        self.state = state
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", f"tests.mcp_servers.{self.module}", "--transport", "http",
             "--port", str(self.port), "--state", str(self.state)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self._process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.module} did not listen on {self.port}")

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def entry(self, **options: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"url": self.url}
        if options:
            entry["orchestrator"] = options
        return entry


def process_gone(pid: int) -> bool:
    """Whether the process has exited (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z"


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


async def eventually(check: Callable[[], bool]) -> None:
    """Wait (up to 5 s) until `check()` holds; notifications and process exits
    arrive in their own time."""
    async with asyncio.timeout(5):
        # Polling: what is awaited (a process exit, a background listing) has no event to wait on.
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


class Cli:
    """`orchestrator mcp ...` run as a user runs it: a process of its own on `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.config = data_dir / "mcp.json"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
        self.env["ORCHESTRATOR_DATA_DIR"] = str(data_dir)

    def __call__(self, *args: str) -> tuple[int, str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "mcp", *args], cwd=ROOT, env=self.env,
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
        )
        return done.returncode, done.stdout, done.stderr

    def saved(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.config.read_text())["mcpServers"]
        return data


def add_stdio(name: str, module: str, *args: str) -> list[str]:
    """`orchestrator mcp add` arguments for one of tests/mcp_servers over stdio."""
    argv = ["-m", f"tests.mcp_servers.{module}", *args]
    return ["add", name, "--command", sys.executable, *(f"--arg={a}" for a in argv)]
