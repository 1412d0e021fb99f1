"""Capability and agent names for MCP servers and tools.

Server and tool names come from configuration files and from servers, so they
can hold anything; capability names must match `CAPABILITY_PATTERN` and agent
ids `NAME_PATTERN` (no quotes, spaces, or shell and Cypher metacharacters).
"""

from __future__ import annotations

import hashlib
import re

# What every MCP agent id and capability name starts with: how a step names its server.
AGENT_PREFIX = "mcp-"
CAPABILITY_PREFIX = "mcp."
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_OTHER = re.compile(r"[^a-z0-9_-]+")
# Leaves room for the "mcp-" prefix inside NAME_PATTERN's 63 characters.
_MAX_SERVER = 40
_MAX_TOOL = 80


def segment(name: str, limit: int = _MAX_TOOL, *, split_camel: bool = True) -> str:
    """One lowercase name segment: `createIssue` -> `create_issue`, `a.b c` -> `a_b_c`."""
    if split_camel:
        name = _CAMEL.sub("_", name)
    text = _OTHER.sub("_", name.lower()).strip("_-")
    if not text or not text[0].isalpha():
        text = f"t_{text}" if text else "t"
    return text[:limit].rstrip("_-")


def server_segment(server: str) -> str:
    # Server names are brand-like ("GitHub" -> "github"); tool names are
    # identifiers, where camelCase marks words ("createIssue" -> "create_issue").
    return segment(server, _MAX_SERVER, split_camel=False)


def agent_id(server: str) -> str:
    return f"{AGENT_PREFIX}{server_segment(server)}"


def capability_name(server: str, tool_segment: str) -> str:
    return f"{CAPABILITY_PREFIX}{server_segment(server)}.{tool_segment}"


def tool_segments(tools: list[str]) -> dict[str, str]:
    """A distinct segment for each tool name. When names collide once sanitised
    (`Create_Repo`, `create_repo`), a name that was already clean keeps its
    segment and the others get a suffix from a hash of the original."""
    plain = {name: segment(name) for name in tools}
    counts: dict[str, int] = {}
    for seg in plain.values():
        counts[seg] = counts.get(seg, 0) + 1
    result: dict[str, str] = {}
    for name, seg in plain.items():
        if counts[seg] == 1 or seg == name:
            result[name] = seg
        else:
            result[name] = f"{seg}_{hashlib.sha256(name.encode()).hexdigest()[:6]}"
    return result
