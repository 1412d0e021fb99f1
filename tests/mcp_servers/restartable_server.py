"""A server whose `greet` tool is described by a file read at start, as an
upgraded server would describe it after a restart; `server_status` tells a test
which process to kill, and `crash` dies in the middle of its call, saying why on
its stderr.

    python -m tests.mcp_servers.restartable_server --description greet.txt
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

from tests.mcp_servers.common import READ_ONLY, add_status_tool


def build(description: str) -> MCPServer:
    server = MCPServer("restartable")

    def greet(name: str) -> str:
        return f"hello {name}"

    def crash(why: str) -> str:
        print(f"fatal: {why}", file=sys.stderr, flush=True)
        os._exit(3)

    server.add_tool(greet, description=description, annotations=READ_ONLY)
    server.add_tool(crash, description="Exit at once, mid-call.")
    add_status_tool(server)
    return server


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The test restartable MCP server")
    parser.add_argument("--description", type=Path, required=True,
                        help="file holding the description of `greet`")
    args = parser.parse_args()
    build(args.description.read_text(encoding="utf-8")).run("stdio")
