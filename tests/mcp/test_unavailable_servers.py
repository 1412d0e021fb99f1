"""A request naming an MCP server whose tools are out of reach (disabled, or not
answering) is refused saying so, not only that its words were not understood."""

from __future__ import annotations

import sys
from pathlib import Path

from temporalio.client import Client

from orchestrator.devserver import DevServer
from tests.integration.stack import mcp_stack
from tests.mcp.support import python_server


async def test_a_request_naming_a_server_out_of_reach_says_why(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    servers = {
        "github": python_server("github_server", "--state", str(tmp_path / "github.json")),
        "paused": {**python_server("github_server", "--state", str(tmp_path / "p.json")),
                   "disabled": True},
        "broken": {"command": sys.executable, "args": ["-m", "no_such_mcp_server_module"]},
    }
    async with mcp_stack(client, temporal_server.address, tmp_path, servers) as s:
        for message, told in (
            ("paused list repositories", "MCP server 'paused' is disabled"),
            ("broken list items", "MCP server 'broken' has not answered ("),
        ):
            reply = await s.http.post("/v3/ai/chat", json={"message": message, "wait": True})
            assert reply.status_code == 422, reply.text
            assert told in reply.json()["detail"], reply.text
        # A request the planner refuses for its own words is told as before.
        reply = await s.http.post("/v3/ai/chat", json={"message": "frobnicate the widgets"})
        assert reply.status_code == 422 and "MCP server" not in reply.json()["detail"]
