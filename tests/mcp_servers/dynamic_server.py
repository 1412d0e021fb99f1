"""A server whose tool list is long and changes while it runs.

It lists `--tools` tools (`item_000`, ...) `--page-size` at a time, so a client
must follow `nextCursor`, and two tools change the list and announce it:
`add_tools` adds tools, `redescribe` changes a tool's description (what a
server swapping a tool under an approved plan would do). `--describe` starts it
with a changed description, as an upgraded server would, and so does
`--descriptions FILE` once the file is written. Built on the SDK's
low-level `Server`, because `MCPServer` lists every tool in one page.

    python -m tests.mcp_servers.dynamic_server --tools 60 --page-size 25
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.stdio import stdio_server
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.subscriptions import ToolsListChanged
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

_ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"note": {"type": "string", "description": "Anything; echoed back"}},
    "additionalProperties": False,
}
_CONTROL = types.ToolAnnotations(readOnlyHint=False, destructiveHint=False)


def _control_tools() -> list[types.Tool]:
    return [
        types.Tool(
            name="add_tools", description="Add tools to the list and announce the change.",
            input_schema={"type": "object", "properties": {"count": {"type": "integer",
                          "minimum": 1}}, "required": ["count"]},
            annotations=_CONTROL,
        ),
        types.Tool(
            name="redescribe", description="Change a tool's description and announce it.",
            input_schema={"type": "object", "properties": {
                "tool": {"type": "string"}, "description": {"type": "string"}},
                "required": ["tool", "description"]},
            annotations=_CONTROL,
        ),
    ]


class Catalogue:
    def __init__(self, count: int, page_size: int, described: dict[str, str]) -> None:
        self.page_size = page_size
        self.descriptions = {f"item_{i:03d}": f"Item tool number {i}." for i in range(count)}
        self.descriptions.update(described)
        self.bus = InMemorySubscriptionBus()

    def tools(self) -> list[types.Tool]:
        items = [
            types.Tool(name=name, description=text, input_schema=_ITEM_SCHEMA,
                       annotations=types.ToolAnnotations(readOnlyHint=True))
            for name, text in sorted(self.descriptions.items())
        ]
        return _control_tools() + items

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        start = int(params.cursor) if params and params.cursor else 0
        tools = self.tools()
        end = start + self.page_size
        cursor = str(end) if end < len(tools) else None
        return types.ListToolsResult(tools=tools[start:end], next_cursor=cursor)

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        args = params.arguments or {}
        if params.name == "add_tools":
            first = len(self.descriptions)
            for i in range(first, first + int(args["count"])):
                self.descriptions[f"item_{i:03d}"] = f"Item tool number {i}."
            await self._announce(ctx)
            return _text(f"now {len(self.descriptions)} item tools")
        if params.name == "redescribe":
            self.descriptions[str(args["tool"])] = str(args["description"])
            await self._announce(ctx)
            return _text(f"redescribed {args['tool']}")
        if params.name in self.descriptions:
            return _text(f"{params.name}: {args.get('note', '')}")
        return types.CallToolResult(content=[types.TextContent(type="text",
                                    text=f"Unknown tool: {params.name}")], is_error=True)

    async def _announce(self, ctx: ServerRequestContext[Any]) -> None:
        # 2026-era clients hear of changes on their subscription; older ones by notification.
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            await self.bus.publish(ToolsListChanged())
        else:
            await ctx.session.send_tool_list_changed()


def _text(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])


async def main(count: int, page_size: int, described: dict[str, str]) -> None:
    catalogue = Catalogue(count, page_size, described)
    server: Server[Any] = Server(
        "dynamic", on_list_tools=catalogue.list_tools, on_call_tool=catalogue.call_tool,
        on_subscriptions_listen=ListenHandler(catalogue.bus),
    )
    options = server.create_initialization_options(NotificationOptions(tools_changed=True))
    async with stdio_server() as (read, write):
        await server.run(read, write, options)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The test dynamic MCP server")
    parser.add_argument("--tools", type=int, default=60)
    parser.add_argument("--page-size", type=int, default=25)
    parser.add_argument("--describe", action="append", default=[], metavar="TOOL=TEXT",
                        help="start with another description for a tool")
    parser.add_argument("--descriptions", type=Path, metavar="FILE",
                        help="start with the descriptions this JSON file holds, if it "
                        "exists (the server upgraded on disk, its configuration the same)")
    args = parser.parse_args()
    described = dict(item.split("=", 1) for item in args.describe)
    if args.descriptions is not None and args.descriptions.exists():
        described.update(json.loads(args.descriptions.read_text()))
    anyio.run(main, args.tools, args.page_size, described)
