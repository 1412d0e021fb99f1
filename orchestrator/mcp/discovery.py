"""What a server offers, in the orchestrator's terms: each tool a `Capability`
named `mcp.<server>.<tool>`, each server one `Agent` providing them."""

from __future__ import annotations

import logging
from collections.abc import Collection
from difflib import get_close_matches
from fnmatch import fnmatchcase
from typing import Any

import mcp.types as types
from mcp import Client

from orchestrator.mcp import names
from orchestrator.mcp.config import ServerOptions
from orchestrator.mcp.errors import McpProtocolError
from orchestrator.models import Agent, AgentKind, Capability, ToolSource

log = logging.getLogger(__name__)

# A server that keeps handing out cursors is broken; stop rather than loop forever.
MAX_PAGES = 100
# Tool calls report progress, which the step activity turns into heartbeats.
HEARTBEAT_MS = 10_000


async def list_tools(client: Client, server: str) -> list[types.Tool]:
    """Every tool the server lists, following `nextCursor` page by page."""
    tools: list[types.Tool] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            return tools
        if cursor in seen:
            raise McpProtocolError(
                f"MCP server {server!r} repeated tools/list cursor {cursor!r}", retryable=False
            )
        seen.add(cursor)
    raise McpProtocolError(
        f"MCP server {server!r} listed tools over more than {MAX_PAGES} pages", retryable=False
    )


def selected(tools: list[types.Tool], options: ServerOptions) -> list[types.Tool]:
    """The tools `include_tools` lets through and `exclude_tools` does not stop, of
    those a plain call can run (`needs_tasks`)."""

    def matches(name: str, patterns: list[str]) -> bool:
        return any(fnmatchcase(name, p) for p in patterns)

    return [
        t for t in tools
        if (options.include_tools is None or matches(t.name, options.include_tools))
        and not matches(t.name, options.exclude_tools) and not needs_tasks(t)
    ]


def needs_tasks(tool: types.Tool) -> bool:
    """A tool that answers only task-augmented calls (`execution.taskSupport:
    required`), which the orchestrator does not make: every step calling it would
    fail ("requires task augmentation"), so it is not offered to plans."""
    return tool.execution is not None and tool.execution.task_support == "required"


def to_capabilities(
    server: str, tools: list[types.Tool], options: ServerOptions
) -> dict[str, Capability]:
    """Capabilities by tool name."""
    segments = names.tool_segments([t.name for t in tools])
    by_tool = {t.name: names.capability_name(server, segments[t.name]) for t in tools}
    for tool in tools:
        extra = options.tools.get(tool.name)
        if extra is not None and extra.provides is not None:
            by_tool[tool.name] = extra.provides
    for problem in misnamed_tools(server, options, by_tool):
        # The server may have changed since it was added: serve the rest of it.
        log.warning("%s", problem)
    return {t.name: _capability(server, t, by_tool, options) for t in tools}


def misnamed_tools(server: str, options: ServerOptions, offered: Collection[str]) -> list[str]:
    """The per-tool options that name a tool the server does not offer (or the
    configuration excludes), each naming its field: options nobody reads, or a
    compensation that a rollback would skip without a word."""
    problems: list[str] = []
    for tool, extra in sorted(options.tools.items()):
        field = f"orchestrator.tools.{tool}"
        if tool not in offered:
            problems.append(f"{field}: MCP server {server!r} offers no tool {tool!r}"
                            f"{_guess(tool, offered, options)}, so these options apply to nothing")
        elif extra.compensation is not None and extra.compensation not in offered:
            problems.append(
                f"{field}.compensation: MCP server {server!r} offers no tool "
                f"{extra.compensation!r}{_guess(extra.compensation, offered, options)}, so plans "
                f"calling {tool!r} are refused: they could not be undone"
            )
    return problems


def _guess(name: str, offered: Collection[str], options: ServerOptions) -> str:
    hints = [f"did you mean {close!r}?"
             for close in get_close_matches(name, sorted(offered), n=1)]
    if options.include_tools is not None or options.exclude_tools:
        # `offered` is what they let through: the tool may exist and be left out.
        hints.append("or include_tools/exclude_tools leave it out")
    return f" ({' '.join(hints)})" if hints else ""


def to_agent(server: str, capabilities: dict[str, str], options: ServerOptions) -> Agent:
    """The server's agent; `capabilities` is each listed tool's, by tool name."""
    timeouts = {
        capabilities[tool]: extra.timeout_ms for tool, extra in sorted(options.tools.items())
        if extra.timeout_ms is not None and tool in capabilities
    }
    return Agent(
        id=names.agent_id(server), kind=AgentKind.MCP,
        capabilities=sorted(set(capabilities.values())), retry=options.retry,
        start_to_close_ms=options.timeout_ms, heartbeat_ms=HEARTBEAT_MS, timeouts_ms=timeouts,
    )


def _capability(
    server: str, tool: types.Tool, by_tool: dict[str, str], options: ServerOptions
) -> Capability:
    extra = options.tools.get(tool.name)
    notes = tool.annotations or types.ToolAnnotations()
    read_only = bool(notes.read_only_hint)
    # The specification's default: a tool that writes may destroy, unless it says not.
    destructive = not read_only and notes.destructive_hint is not False
    sensitive = destructive
    if options.sensitive is not None:
        sensitive = options.sensitive
    if extra is not None and extra.sensitive is not None:
        sensitive = extra.sensitive
    compensation = None
    if extra is not None and extra.compensation is not None:
        # A name it does not offer was reported by `to_capabilities`, and keeps the
        # name it would have: a plan with this tool is then refused, naming the
        # option, rather than run without the undo it was given.
        compensation = by_tool.get(extra.compensation) or names.capability_name(
            server, names.tool_segments([extra.compensation])[extra.compensation])
    return Capability(
        name=by_tool[tool.name],
        description=tool.description or tool.title or f"Tool {tool.name} of MCP server {server}",
        input_schema=dict(tool.input_schema),
        consumes=list(extra.consumes) if extra else [],
        produces=list(extra.produces) if extra else [],
        sensitive=sensitive,
        compensation=compensation,
        read_only=read_only,
        idempotent=bool(notes.idempotent_hint),
        source=ToolSource(server=server, tool=tool.name),
        output_schema=dict(tool.output_schema) if tool.output_schema else None,
        defaults=_defaults(server, tool, extra.defaults if extra else {}),
    )


def _defaults(server: str, tool: types.Tool, defaults: dict[str, Any]) -> dict[str, Any]:
    """The configured defaults of parameters the tool takes; others are reported."""
    takes = set(tool.input_schema.get("properties", {}))
    for name in sorted(set(defaults) - takes):
        log.warning("MCP server %s: default for %r, which tool %r does not take",
                    server, name, tool.name)
    return {k: v for k, v in defaults.items() if k in takes}
