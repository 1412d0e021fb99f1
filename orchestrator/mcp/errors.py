"""Failures of MCP servers and tool calls, in the core's terms.

Each is an `OrchestratorError`, so the activity layer maps it like any other:
`retryable` decides whether Temporal tries again, and the class name becomes
the failure's type (`McpToolFailed`, `McpToolChanged`, ...).
"""

from __future__ import annotations

from orchestrator.errors import InvalidInput, OrchestratorError, TransientFailure


class McpConfigError(InvalidInput):
    """The `mcpServers` file is missing, not JSON, or has a bad field (named in the message)."""


class McpUnknownTool(InvalidInput):
    """No configured server, or no tool on the server, has this name."""


class McpUnknownServer(McpUnknownTool):
    """No server of this name is configured."""


class McpServerExists(InvalidInput):
    """A server of this name (or one published under the same capability prefix)
    is configured already."""


class McpApprovalConflict(InvalidInput):
    """Nothing to approve: the tool matches its pin, or changed again since it was shown."""


class McpInvalidArguments(InvalidInput):
    """The arguments violate the tool's input schema; `field` says where."""

    def __init__(self, capability: str, field: str, reason: str) -> None:
        self.capability = capability
        self.field = field
        self.reason = reason
        super().__init__(f"invalid arguments for {capability}: field {field!r}: {reason}")


class McpToolChanged(InvalidInput):
    """The server changed the tool since it was pinned; calls are refused until the
    new definition is approved, so a server cannot swap a tool under a plan."""

    def __init__(self, server: str, tool: str) -> None:
        self.server = server
        self.tool = tool
        super().__init__(
            f"tool {tool!r} of MCP server {server!r} changed since it was approved "
            "(description, input schema or annotations); approve it again to call it: "
            f"orchestrator mcp approve {server} {tool} (see what changed with "
            f"orchestrator mcp tools {server}); a tool that changed only in the running "
            "server, not in what the command starts, is approved through the API: "
            f"POST /v1/mcp/servers/{server}/tools/{tool}/approve"
        )


class McpServerUnavailable(TransientFailure):
    """The server could not be started or reached, or its process or connection died."""


class McpTimeout(TransientFailure):
    """The server did not answer within the call's timeout."""


class McpToolFailed(OrchestratorError):
    """The tool ran and reported failure (`isError`); carries the tool's own text."""

    def __init__(self, server: str, tool: str, text: str, *, retryable: bool) -> None:
        self.server = server
        self.tool = tool
        self.text = text
        self.retryable = retryable
        super().__init__(f"tool {tool!r} of MCP server {server!r} failed: {text or 'no message'}")


class McpProtocolError(OrchestratorError):
    """The server answered with a JSON-RPC error or a result that breaks the protocol."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        self.retryable = retryable
        super().__init__(message)


def describe(error: BaseException) -> str:
    """What failed, in words: anyio wraps a failure inside a task group in a group
    of one, which says nothing by itself."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return str(error) or type(error).__name__
