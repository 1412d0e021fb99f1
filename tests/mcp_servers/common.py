"""What the test MCP servers share: state in a JSON file (so a test can see what
a tool did, and what its compensation undid), status, and the command line."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel

READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True)
CREATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False)
UPDATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True)
DELETES = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True)


class JsonState:
    """A dict kept in a file; each tool call reads it, changes it and writes it back."""

    def __init__(self, path: Path, initial: dict[str, Any]) -> None:
        self.path = path
        if not path.exists():
            self.save(initial)

    def load(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.path.read_text())
        return data

    def save(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, self.path)


class ServerStatus(BaseModel):
    pid: int
    started_at: float


def add_status_tool(server: MCPServer) -> None:
    """`server_status`: which process answers, so a test can tell a reused session
    from a restarted server."""
    started = time.time()

    def server_status() -> ServerStatus:
        """Report the server's process id and start time."""
        return ServerStatus(pid=os.getpid(), started_at=started)

    server.add_tool(server_status, annotations=READ_ONLY)


def parse_args(name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=f"The test {name} MCP server")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", type=Path, required=True, help="JSON file holding its world")
    return parser.parse_args()


def serve(server: MCPServer, args: argparse.Namespace) -> None:
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)
