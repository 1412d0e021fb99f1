"""Fixtures for the MCP tests: real servers, no mocks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.mcp import McpHub, parse_config
from tests.mcp.support import HttpServerProcess, ensure_npm_servers

HubFactory = Callable[..., McpHub]


@pytest.fixture(scope="session")
def npm_servers() -> None:
    ensure_npm_servers()


@pytest.fixture(scope="session")
def cloud_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServerProcess]:
    """The cloud server on streamable HTTP, shared by the tests that only call it."""
    state = tmp_path_factory.mktemp("cloud") / "cloud.json"
    server = HttpServerProcess("cloud_server", state)
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def make_hub(tmp_path: Path) -> AsyncIterator[HubFactory]:
    """Builds hubs over an `mcpServers` mapping; closes them (and their servers) after the test."""
    hubs: list[McpHub] = []

    def make(servers: dict[str, Any], **options: Any) -> McpHub:
        hub = McpHub(parse_config({"mcpServers": servers}), data_dir=tmp_path / "mcp", **options)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.close()

