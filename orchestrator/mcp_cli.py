"""`orchestrator mcp ...`: the MCP servers of the config file, edited directly.

The file is `ORCHESTRATOR_MCP_CONFIG`, by default `<data dir>/mcp.json`; a
running `orchestrator up` reads it at start (the HTTP API changes a running
one). `list`, `tools`, `approve` and `add` connect to the servers; `add` saves
a server only once its tools could be listed (unless `--no-connect`). `list`
and `tools` wait for a server as `GET /v1/mcp/servers` does (views.LIST_S), and
exit 1 if one did not answer.
The MCP modules are imported by the commands themselves, so that the rest of
the CLI starts without loading the MCP SDK.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shlex
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from orchestrator.errors import InvalidInput, OrchestratorError
from orchestrator.settings import Settings
from orchestrator.wording import counted

if TYPE_CHECKING:
    from orchestrator.mcp.views import ServerDetail, ServerView

Command = Callable[[argparse.Namespace], Awaitable[int]]
# A server that answers at all answers within this; one that hangs would keep the
# command silent until its connect timeout (30 s by default) without a word.
WAIT_NOTICE_S = 2.0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `orchestrator mcp` and its subcommands."""
    mcp = sub.add_parser("mcp", help="list, add, remove MCP servers; approve changed tools")
    commands = mcp.add_subparsers(required=True, metavar="action")

    listing = commands.add_parser("list", help="the configured servers, their status and tools")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_guarded(_list))

    tools = commands.add_parser("tools", help="a server's tools, as capabilities")
    tools.add_argument("server")
    tools.add_argument("--json", action="store_true", help="print JSON")
    tools.set_defaults(func=_guarded(_tools))

    add = commands.add_parser("add", help="add a server (stdio command or streamable HTTP URL)")
    add.add_argument("name")
    target = add.add_mutually_exclusive_group(required=True)
    target.add_argument("--command", help="the executable of a stdio server (no shell)")
    target.add_argument("--url", help="the endpoint of a streamable HTTP server")
    add.add_argument("--arg", action="append", default=[], metavar="ARG",
                     help="one argument of the command; repeat (use --arg=-x for dashes)")
    add.add_argument("--env", action="append", default=[], metavar="K=V",
                     help="an environment variable of the command; repeat")
    add.add_argument("--header", action="append", default=[], metavar="K=V",
                     help="an HTTP header sent with every request; repeat")
    add.add_argument("--cwd", help="the command's working directory")
    add.add_argument("--options", metavar="JSON",
                     help='our options for the server, as in the file\'s "orchestrator" key: '
                          '\'{"tools": {"create_repository": {"produces": ["repository"]}}}\'')
    add.add_argument("--no-connect", action="store_true",
                     help="save without listing the server's tools first")
    add.set_defaults(func=_guarded(_add))

    remove = commands.add_parser("remove", help="remove a server and forget its tool pins")
    remove.add_argument("name")
    remove.set_defaults(func=_guarded(_remove))

    approve = commands.add_parser("approve", help="approve a tool that changed since approved")
    approve.add_argument("server")
    approve.add_argument("tool")
    approve.add_argument("--fingerprint", help="approve only this definition (sha256)")
    approve.set_defaults(func=_guarded(_approve))

    # Every other command talks to the API and takes --api: said here by habit, it is
    # told why these do not, rather than refused as an unknown argument.
    for command in (listing, tools, add, remove, approve):
        command.add_argument("--api", help=argparse.SUPPRESS)


def _guarded(command: Command) -> Command:
    """Failures as one line on stderr: 2 for bad input, 1 for servers that failed."""

    async def run(args: argparse.Namespace) -> int:
        # Connection chatter would drown the answer; failures are part of it. Only
        # while the command runs: a caller in the same process keeps its logging.
        noisy = [logging.getLogger(name) for name in ("orchestrator.mcp", "mcp", "httpx2")]
        levels = [logger.level for logger in noisy]
        for logger in noisy:
            logger.setLevel(logging.CRITICAL)
        try:
            if args.api is not None:
                raise InvalidInput(
                    f"--api: the mcp commands edit the config file "
                    f"({Settings().mcp_config_path}), which a running orchestrator reads "
                    f"as it changes; the API's servers are at {args.api.rstrip('/')}"
                    "/v1/mcp/servers")
            return await command(args)
        except OrchestratorError as error:
            print(f"orchestrator mcp: {error}", file=sys.stderr)
            return 2 if isinstance(error, InvalidInput) else 1
        finally:
            for logger, level in zip(noisy, levels, strict=True):
                logger.setLevel(level)

    return run


async def _list(args: argparse.Namespace) -> int:
    from orchestrator.mcp import McpHub
    from orchestrator.mcp.views import list_unlisted, server_view

    settings = Settings()
    async with McpHub.from_settings(settings) as hub:
        await list_unlisted(hub)
        views = [server_view(hub, name) for name in sorted(hub.config.servers)]
    if args.json:
        print(json.dumps([v.model_dump(mode="json") for v in views], indent=2))
    elif not views:
        print(f"No MCP servers in {settings.mcp_config_path}; add one with "
              "`orchestrator mcp add <name> --command ... | --url ...`.")
    else:
        _print_servers(views)
    # As `tools` does: a script (or a glance at $?) must not take a server that
    # did not answer for one that serves nothing.
    return 1 if any(view.status == "unreachable" for view in views) else 0


async def _tools(args: argparse.Namespace) -> int:
    from orchestrator.mcp import McpHub, McpUnknownServer
    from orchestrator.mcp.views import list_unlisted, server_detail

    async with McpHub.from_settings(Settings()) as hub:
        if args.server not in hub.config.servers:
            raise McpUnknownServer(f"no MCP server named {args.server!r} is configured")
        await list_unlisted(hub, [args.server])
        detail = server_detail(hub, args.server)
    if args.json:
        print(json.dumps(detail.model_dump(mode="json"), indent=2))
    else:
        _print_tools(detail)
    return 0 if detail.status in ("ready", "disabled") else 1


async def _add(args: argparse.Namespace) -> int:
    from orchestrator.mcp import McpHub, parse_server
    from orchestrator.mcp.admin import McpAdmin

    server = parse_server(_entry(args))
    settings = Settings()
    async with (
        McpHub.from_settings(settings) as hub,
        _waiting_notice(args.name, server.orchestrator.connect_timeout_ms),
    ):
        await McpAdmin(hub, settings.mcp_config_path).add(
            args.name, server, connect=not args.no_connect
        )
        tools = hub.tools(args.name)
    listed = "not connected" if tools is None else counted(len(tools), "tool")
    print(f"added MCP server {args.name!r} to {settings.mcp_config_path} ({listed})")
    return 0


async def _remove(args: argparse.Namespace) -> int:
    from orchestrator.mcp import McpHub
    from orchestrator.mcp.admin import McpAdmin

    settings = Settings()
    async with McpHub.from_settings(settings) as hub:
        await McpAdmin(hub, settings.mcp_config_path).remove(args.name)
    print(f"removed MCP server {args.name!r} from {settings.mcp_config_path}")
    return 0


async def _approve(args: argparse.Namespace) -> int:
    from orchestrator.mcp import McpHub
    from orchestrator.mcp.admin import McpAdmin

    settings = Settings()
    async with McpHub.from_settings(settings) as hub:
        entry = hub.config.servers.get(args.server)
        timeout_ms = entry.orchestrator.connect_timeout_ms if entry else 0
        async with _waiting_notice(args.server, timeout_ms):
            tool = await McpAdmin(hub, settings.mcp_config_path).approve(
                args.server, args.tool, args.fingerprint
            )
    print(f"approved tool {args.tool!r} of MCP server {args.server!r} ({tool.fingerprint})")
    return 0


@contextlib.asynccontextmanager
async def _waiting_notice(server: str, timeout_ms: int) -> AsyncIterator[None]:
    """One line on stderr if the server keeps the command waiting past WAIT_NOTICE_S."""

    async def notice() -> None:
        await asyncio.sleep(WAIT_NOTICE_S)
        print(f"waiting for MCP server {server!r} to answer (it is given "
              f"{timeout_ms / 1000:g} s: connect_timeout_ms)", file=sys.stderr, flush=True)

    task = asyncio.create_task(notice())
    try:
        yield
    finally:
        task.cancel()


def _entry(args: argparse.Namespace) -> dict[str, Any]:
    """The `mcpServers` entry the flags describe, with only the keys given."""
    if args.command is not None and args.header:
        raise InvalidInput("--header goes with --url, not --command")
    if args.url is not None and (args.env or args.arg or args.cwd):
        raise InvalidInput("--arg, --env and --cwd go with --command, not --url")
    entry: dict[str, Any] = {"command": args.command} if args.command else {"url": args.url}
    optional = {"args": args.arg, "env": _pairs(args.env, "--env"),
                "headers": _pairs(args.header, "--header"), "cwd": args.cwd}
    entry |= {key: value for key, value in optional.items() if value}
    if args.options is not None:
        entry["orchestrator"] = _options(args.options)
    return entry


def _options(text: str) -> dict[str, Any]:
    try:
        options = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"--options is not JSON: {error.msg} at column {error.colno}"
                           ) from None
    if not isinstance(options, dict):
        raise InvalidInput("--options must be a JSON object, as the \"orchestrator\" key is")
    return options


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{flag} {item!r}: use KEY=VALUE")
        pairs[key.strip()] = value
    return pairs


def _print_servers(views: list[ServerView]) -> None:
    rows = [("NAME", "TRANSPORT", "TARGET", "TOOLS", "STATUS")]
    notes: list[str] = []
    for view in views:
        target = view.url or shlex.join([view.command or "", *view.args])
        # A server whose tools could not be listed has an unknown number of them, not 0.
        count = str(view.tool_count) if view.status == "ready" and view.tool_count is not None \
            else "-"
        rows.append((view.name, view.transport, target, count, view.status))
        if view.last_error:
            notes.append(f"{view.name}: {view.last_error}")
        if view.changed_tools:
            notes.append(f"{view.name}: changed since approved, calls refused: "
                         f"{', '.join(view.changed_tools)}")
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
              + "  " + row[-1])
    for note in notes:
        print(note)


def _print_tools(detail: ServerDetail) -> None:
    count = "tools unknown" if detail.status != "ready" or detail.tool_count is None \
        else counted(detail.tool_count, "tool")
    print(f"{detail.name} ({detail.transport}, {detail.status}): {count}")
    if detail.last_error:
        print(f"  {detail.last_error}")
    rows = [(tool.capability, tool.name, ", ".join(
        flag for flag, on in (("read-only", tool.read_only), ("sensitive", tool.sensitive),
                              ("CHANGED", tool.changed)) if on
    ), (tool.description.splitlines() or [""])[0]) for tool in detail.tools]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    for row in rows:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
              + "  " + row[-1])
    for tool in detail.tools:
        if tool.changed:
            print(f"{tool.name} changed since it was approved; calls are refused until: "
                  f"orchestrator mcp approve {shlex.quote(detail.name)} {shlex.quote(tool.name)}")
