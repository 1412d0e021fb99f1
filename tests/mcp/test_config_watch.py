"""Edits to mcp.json while the worker and the API run, made by `orchestrator mcp
add|remove` in a process of its own or by hand, reach the running hub: the new
server's tools are planned and called, a removed server's tools leave, and a
file that does not parse changes nothing."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.client import Client

from orchestrator.devserver import DevServer
from orchestrator.models import RunStatus
from tests.integration.stack import Stack, running_stack
from tests.mcp.support import Cli, add_stdio

CREATE = "mcp.github.create_repository"
REQUEST = "GitHub create repository name=shop"


def _served(s: Stack) -> set[str]:
    return {c.name for c in s.runtime.hub.capabilities}


async def _until(check: Callable[[], bool], timeout_s: float = 15) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 - the watch has no event to wait on
            await asyncio.sleep(0.05)


async def _chat(s: Stack, message: str) -> tuple[int, dict[str, object]]:
    reply = await s.http.post("/v3/ai/chat", json={"message": message, "wait": True})
    body: dict[str, object] = reply.json()
    return reply.status_code, body


async def test_cli_edits_reach_a_running_worker_and_api(
    client: Client, temporal_server: DevServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data, state = tmp_path / "data", tmp_path / "github.json"
    cli = Cli(data)
    async with running_stack(client, temporal_server.address, data) as s:
        assert CREATE not in _served(s)
        code, _, err = await asyncio.to_thread(
            cli, *add_stdio("github", "github_server", "--state", str(state)))
        assert code == 0, err
        await _until(lambda: CREATE in _served(s))

        code, body = await _chat(s, REQUEST)
        assert code == 200 and body["status"] == RunStatus.COMPLETED, body
        assert "shop" in json.loads(state.read_text())["repositories"]

        # By hand, half written: ignored, the servers stay as they were.
        saved = cli.config.read_text()
        with caplog.at_level(logging.WARNING, logger="orchestrator.mcp.watch"):
            cli.config.write_text(saved[: len(saved) // 2])
            await _until(lambda: "ignored the edit" in caplog.text)
        assert CREATE in _served(s) and "github" in s.runtime.hub.config.servers
        # By hand, an entry changed: served as it is now, its pins kept.
        edited = json.loads(saved)
        edited["mcpServers"]["github"]["env"] = {"GITHUB_TOKEN": "ghp-other"}
        cli.config.write_text(json.dumps(edited))
        await _until(lambda: getattr(s.runtime.hub.config.servers["github"], "env", None)
                     == {"GITHUB_TOKEN": "ghp-other"})
        assert s.runtime.hub.pins.has("github")
        await _until(lambda: CREATE in _served(s))

        # Gone for a moment (saved by deleting and writing again): nothing changes.
        with caplog.at_level(logging.WARNING, logger="orchestrator.mcp.watch"):
            cli.config.unlink()
            await _until(lambda: "No such file" in caplog.text)
        assert CREATE in _served(s) and "github" in s.runtime.hub.config.servers
        cli.config.write_text(saved)
        # Removed by hand, then back: the pins stay, so a tool that changed meanwhile
        # would wait for approval rather than be trusted afresh.
        cli.config.write_text(json.dumps({"mcpServers": {}}))
        await _until(lambda: "github" not in s.runtime.hub.config.servers)
        assert s.runtime.hub.pins.has("github")
        cli.config.write_text(saved)
        await _until(lambda: CREATE in _served(s))

        code, _, err = await asyncio.to_thread(cli, "remove", "github")
        assert code == 0, err
        await _until(lambda: CREATE not in _served(s))
        assert "github" not in s.runtime.hub.config.servers
        assert not s.runtime.hub.pins.has("github")  # `mcp remove` forgets them
        code, body = await _chat(s, REQUEST)
        assert code == 422, body
