"""MCP servers as agents: configuration, pooled sessions, discovery, pinning, calls."""

from orchestrator.mcp.blobs import BlobRef, BlobStore
from orchestrator.mcp.calls import ProgressFn, ToolCaller, ToolProgress
from orchestrator.mcp.catalogue import ListedTool, ToolCatalogue
from orchestrator.mcp.config import (
    HttpServer,
    McpConfig,
    ServerOptions,
    StdioServer,
    ToolOptions,
    load_config,
    parse_config,
    parse_server,
    read_config,
    save_config,
)
from orchestrator.mcp.errors import (
    McpApprovalConflict,
    McpConfigError,
    McpInvalidArguments,
    McpProtocolError,
    McpServerExists,
    McpServerUnavailable,
    McpTimeout,
    McpToolChanged,
    McpToolFailed,
    McpUnknownServer,
    McpUnknownTool,
)
from orchestrator.mcp.hub import McpHub
from orchestrator.mcp.pinning import PinStore, ToolChange, fingerprint
from orchestrator.mcp.sessions import SessionPool

__all__ = [
    "BlobRef",
    "BlobStore",
    "HttpServer",
    "ListedTool",
    "McpApprovalConflict",
    "McpConfig",
    "McpConfigError",
    "McpHub",
    "McpInvalidArguments",
    "McpProtocolError",
    "McpServerExists",
    "McpServerUnavailable",
    "McpTimeout",
    "McpToolChanged",
    "McpToolFailed",
    "McpUnknownServer",
    "McpUnknownTool",
    "PinStore",
    "ProgressFn",
    "ServerOptions",
    "SessionPool",
    "StdioServer",
    "ToolCaller",
    "ToolCatalogue",
    "ToolChange",
    "ToolOptions",
    "ToolProgress",
    "fingerprint",
    "load_config",
    "parse_config",
    "parse_server",
    "read_config",
    "save_config",
]
