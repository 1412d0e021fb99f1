"""One live MCP session per server, shared by every call in the process.

Starting a server process (or an HTTP session) per call would make a workflow of
many steps pay that price at every step, so a session is opened on first use and
reused until it dies or the pool closes. Each session belongs to its own owner
task (`Connection`); callers only send requests over it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED, INTERNAL_ERROR, INVALID_REQUEST

from orchestrator.mcp.config import HttpServer, StdioServer
from orchestrator.mcp.connection import Connection, ServerEvent, log_file
from orchestrator.mcp.errors import McpServerUnavailable, McpUnknownTool, describe

# The SDK client's error for an HTTP error status whose body holds no JSON-RPC error.
HTTP_ERROR_STAND_IN = "Server returned an error response"
# Faults that mean the connection itself is gone, whatever the request was.
TRANSPORT_FAULTS: tuple[type[BaseException], ...] = (
    OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, httpx2.TransportError,
)


class SessionPool:
    """Sessions by server name: opened on first use, reused, reopened after they die."""

    def __init__(
        self, servers: Mapping[str, StdioServer | HttpServer], *, log_dir: Path | None = None,
        on_tools_changed: ServerEvent | None = None, on_reconnect: ServerEvent | None = None,
    ) -> None:
        """`on_tools_changed` runs when a server announces a new tool list, and
        `on_reconnect` when a session is opened again (a restarted server may offer
        other tools); `log_dir` receives each stdio server's stderr."""
        self._servers = dict(servers)
        self._log_dir = log_dir
        self._on_tools_changed = on_tools_changed or _ignore
        self._on_reconnect = on_reconnect or _ignore
        self._live: dict[str, Connection] = {}
        # Sessions of servers edited or removed, still carrying calls under way.
        self._draining: set[Connection] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._opened: dict[str, int] = {}
        self._closed = False

    @property
    def servers(self) -> Mapping[str, StdioServer | HttpServer]:
        return self._servers

    def add(self, name: str, server: StdioServer | HttpServer) -> None:
        """Serve one more server from now on; it connects on first use."""
        self._servers[name] = server

    def remove(self, name: str) -> None:
        """Stop serving a server: new calls no longer reach its session, which closes
        (in the background) once the calls under way on it have ended."""
        self._servers.pop(name, None)
        self._opened.pop(name, None)
        conn = self._live.get(name)
        if conn is not None:
            self._retire(conn, drain=True)

    def log_of(self, server: str) -> Path | None:
        """Where a stdio server's stderr goes (a server's own account of its errors)."""
        if self._log_dir is None or not isinstance(self._servers.get(server), StdioServer):
            return None
        return log_file(self._log_dir, server)

    def is_alive(self, server: str) -> bool:
        conn = self._live.get(server)
        return conn is not None and conn.usable and conn.ready.done()

    def opened(self, server: str) -> int:
        """How many sessions have been opened to the server so far."""
        return self._opened.get(server, 0)

    async def client(self, server: str) -> Client:
        """The server's live session, opening (or reopening) it when needed."""
        return (await self._connected(server))[1]

    async def _connected(self, server: str) -> tuple[Connection, Client]:
        if self._closed:
            raise McpServerUnavailable("the MCP session pool is closed")
        if server not in self._servers:
            raise McpUnknownTool(f"no MCP server named {server!r} is configured")
        conn = self._live.get(server)
        if conn is None or not conn.usable:
            if conn is not None:
                self._retire(conn)
            conn = self._open(server)
        try:
            # Shielded: one caller giving up must not cancel the connect for the others.
            return conn, await asyncio.shield(conn.ready)
        except McpServerUnavailable:
            self._retire(conn)
            raise

    @contextlib.asynccontextmanager
    async def session(self, server: str) -> AsyncIterator[Client]:
        """The server's session for one exchange; a fault of the connection itself
        retires the session (the next use opens a new one) and is raised as the
        retryable `McpServerUnavailable`."""
        conn, client = await self._connected(server)
        try:
            with conn.in_use():
                yield client
        except TRANSPORT_FAULTS as error:
            self.discard(server, client)
            raise McpServerUnavailable(f"MCP server {server!r}: {describe(error)}") from error
        except MCPError as error:
            if not _session_gone(error):
                raise
            self.discard(server, client)
            # A stdio server that died says why on its stderr, if anywhere.
            raise McpServerUnavailable(
                f"MCP server {server!r} lost the session: {error.message}{conn.last_words()}"
            ) from error

    def discard(self, server: str, client: Client) -> None:
        """Retire the server's session if it is still the one `client` belongs to."""
        conn = self._live.get(server)
        if conn is not None and _connected_to(conn, client):
            self._retire(conn)

    async def close(self) -> None:
        self._closed = True
        for conn in [*self._live.values(), *self._draining]:
            self._retire(conn)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def __aenter__(self) -> SessionPool:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _open(self, server: str) -> Connection:
        count = self._opened[server] = self._opened.get(server, 0) + 1
        if count > 1:
            self._on_reconnect(server)
        conn = Connection(server, self._servers[server], self._log_dir, self._on_tools_changed)
        self._live[server] = conn
        return conn

    def _retire(self, conn: Connection, *, drain: bool = False) -> None:
        if self._live.get(conn.name) is conn:
            del self._live[conn.name]
        if drain:
            conn.drain()
            self._draining.add(conn)
            conn.task.add_done_callback(lambda _: self._draining.discard(conn))
        else:
            conn.end()
        if not conn.task.done():
            self._closing.add(conn.task)
            conn.task.add_done_callback(self._closing.discard)


def _ignore(server: str) -> None:
    pass


def _connected_to(conn: Connection, client: Client) -> bool:
    done = conn.ready.done() and conn.ready.exception() is None
    return done and conn.ready.result() is client


def _session_gone(error: MCPError) -> bool:
    """Whether the connection closed, or the server no longer knows its session.

    A streamable HTTP server that restarted refuses a stale session id, and how
    it says so varies: 404, which the SDK client reports as "Session terminated"
    (or the Python SDK's servers, "Session not found"); -32001 from some
    TypeScript servers; and 400 "No valid session ID provided" from others
    (server-everything), which reaches us as the SDK's stand-in for an HTTP error
    without a JSON-RPC one, "Server returned an error response". A new session is
    the cure for each; a server that answers every request so is then retried on
    fresh sessions, as many times as the step's retry policy allows.
    """
    if error.code == CONNECTION_CLOSED:
        return True
    if error.code == INTERNAL_ERROR and error.message == HTTP_ERROR_STAND_IN:
        return True
    stale = error.code in (INVALID_REQUEST, -32001) or -32099 <= error.code <= -32000
    return stale and "session" in error.message.lower()
