"""The SDK transport for one configured server, watched for its end.

The SDK does not say when a connection has died between calls: a stdio server
that exits just closes the stream the session reads. `Watched` wraps that read
stream and calls back when it ends, so the pool can reopen the session before
the next call instead of failing it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Protocol, TextIO, cast

import anyio
import httpx2
from mcp.client import Transport
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage

from orchestrator.mcp.config import HttpServer, StdioServer

# Connect, write and pool waits; reads are bounded per call by the session instead.
_HTTP_TIMEOUT = httpx2.Timeout(30.0, read=None)


class _Receiver(Protocol):
    async def receive(self) -> SessionMessage | Exception: ...
    async def aclose(self) -> None: ...


class _WatchedReadStream:
    """A read stream that reports its end (EOF or closed) once."""

    def __init__(self, inner: _Receiver, on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end = on_end

    @property
    def last_context(self) -> contextvars.Context | None:
        # The dispatcher restores the sender's context from here (HTTP transports).
        context: contextvars.Context | None = getattr(self._inner, "last_context", None)
        return context

    async def receive(self) -> SessionMessage | Exception:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    def __aiter__(self) -> _WatchedReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _WatchedReadStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def transport_for(
    server: StdioServer | HttpServer, errlog: TextIO, on_end: Callable[[], None]
) -> Transport:
    """The server's transport; `on_end` runs when the connection ends by itself."""
    return cast(Transport, _open(server, errlog, on_end))


@contextlib.asynccontextmanager
async def _open(
    server: StdioServer | HttpServer, errlog: TextIO, on_end: Callable[[], None]
) -> AsyncIterator[tuple[_WatchedReadStream, Any]]:
    async with contextlib.AsyncExitStack() as stack:
        if isinstance(server, StdioServer):
            params = StdioServerParameters(
                command=server.command, args=server.args, env=server.env or None, cwd=server.cwd
            )
            read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
        else:
            client = await stack.enter_async_context(
                httpx2.AsyncClient(headers=server.headers, timeout=_HTTP_TIMEOUT)
            )
            read, write = await stack.enter_async_context(
                streamable_http_client(server.url, http_client=client)
            )
        yield _WatchedReadStream(read, on_end), write
