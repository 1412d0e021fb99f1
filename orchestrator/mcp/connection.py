"""The owner of one MCP session.

The SDK's sessions hold anyio task groups and cancel scopes, which must be exited
by the task that entered them. So each session is opened and closed by its own
long-lived task, never by whichever caller happened to need it first; callers
only send requests over it, which any task may do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import anyio
import mcp.types as types
from mcp import Client
from mcp.client.session import IncomingMessage
from mcp.client.subscriptions import ListenNotSupportedError, SubscriptionLost
from mcp.shared.exceptions import MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from orchestrator.mcp.config import HttpServer, StdioServer
from orchestrator.mcp.errors import McpServerUnavailable, describe
from orchestrator.mcp.transports import transport_for

log = logging.getLogger(__name__)

_LISTEN_TIMEOUT_S = 5.0

ServerEvent = Callable[[str], None]


class Connection:
    """A session to one server, owned from open to close by one task."""

    def __init__(
        self, name: str, server: StdioServer | HttpServer, log_dir: Path | None,
        on_tools_changed: ServerEvent,
    ) -> None:
        self.name = name
        self._server = server
        self._log_dir = log_dir
        self._on_tools_changed = on_tools_changed
        # The stdio server's stderr log, and where this session's part of it starts.
        self._log: Path | None = None
        self._log_start = 0
        self.ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
        # A failed connect nobody awaited any more must not warn at garbage collection.
        self.ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._ended = False
        # Exchanges under way, and whether the session closes once they have ended.
        self._calls = 0
        self._draining = False
        self._wake = asyncio.Event()
        # The scope around the session's life; cancelled only to abandon a connect.
        self._scope = anyio.CancelScope(
            deadline=anyio.current_time() + server.orchestrator.connect_timeout_ms / 1000
        )
        self.task = asyncio.create_task(self._own(), name=f"mcp-session:{name}")

    @property
    def usable(self) -> bool:
        failed = self.ready.done() and self.ready.exception()
        return not self._ended and not self._draining and not failed

    @contextlib.contextmanager
    def in_use(self) -> Iterator[None]:
        """Around one exchange: a session asked to drain closes once the last ends."""
        self._calls += 1
        try:
            yield
        finally:
            self._calls -= 1
            if self._draining and not self._calls:
                self.end()

    def drain(self) -> None:
        """Close the session once the exchanges under way have ended (each has its
        own timeout); at once if there are none. For a server edited or removed:
        cut off, a call would be retried on a new session, and a tool that is not
        idempotent would run twice."""
        if self._calls:
            self._draining = True
        else:
            self.end()

    def end(self) -> None:
        """Ask the owner to close the session (idempotent, returns at once)."""
        if not self.ready.done():
            # Still connecting: stop waiting for a server that may never answer.
            self._scope.cancel()
        self._transport_ended()

    def _transport_ended(self) -> None:
        self._ended = True
        self._wake.set()

    async def _own(self) -> None:
        options = self._server.orchestrator
        try:
            with contextlib.ExitStack() as files:
                errlog = files.enter_context(self._errlog())
                # One scope around the whole life of the session, so scopes exit in
                # the order they were entered; its connect deadline is lifted once
                # connected.
                with self._scope as scope:
                    async with contextlib.AsyncExitStack() as stack:
                        client = Client(
                            transport_for(self._server, errlog, self._transport_ended),
                            mode=options.protocol,
                            message_handler=self._on_message,
                            # Listings must reflect the server now, not a cached answer.
                            cache=None,
                        )
                        await stack.enter_async_context(client)
                        await self._listen(client, stack)
                        scope.deadline = math.inf
                        self.ready.set_result(client)
                        log.info("MCP server %s connected (%s)", self.name, client.protocol_version)
                        await self._wake.wait()
                if scope.cancelled_caught and not self.ready.done():
                    if self._ended:
                        raise ConnectionAbortedError("closed while connecting")
                    raise TimeoutError(f"no answer within {options.connect_timeout_ms} ms")
        except Exception as error:
            if not self.ready.done():
                self.ready.set_exception(McpServerUnavailable(
                    f"cannot connect to MCP server {self.name!r}: {describe(error)}"
                    f"{self.last_words()}"
                ))
            else:
                log.warning("MCP server %s: session ended with %s", self.name, describe(error))
        finally:
            self._ended = True
            if not self.ready.done():
                self.ready.set_exception(McpServerUnavailable(f"MCP server {self.name!r} closed"))
            log.info("MCP server %s disconnected", self.name)

    async def _listen(self, client: Client, stack: contextlib.AsyncExitStack) -> None:
        """On 2026-era connections, tool-list changes arrive only on a subscription;
        its events reach `_on_message` like the older notifications do."""
        tools = client.server_capabilities.tools
        if client.protocol_version not in MODERN_PROTOCOL_VERSIONS or not (
            tools and tools.list_changed
        ):
            return
        try:
            with anyio.fail_after(_LISTEN_TIMEOUT_S):
                await stack.enter_async_context(client.listen(tools_list_changed=True))
        except (MCPError, SubscriptionLost, ListenNotSupportedError, TimeoutError) as error:
            log.warning("MCP server %s: no tool-change subscription: %s", self.name, error)

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._on_tools_changed(self.name)
        elif isinstance(message, Exception):
            log.debug("MCP server %s: transport reported %r", self.name, message)

    def _errlog(self) -> contextlib.AbstractContextManager[TextIO]:
        """Where a stdio server's stderr goes: a log file per server when configured."""
        if self._log_dir is None or not isinstance(self._server, StdioServer):
            return contextlib.nullcontext(sys.stderr)
        # A server may write what it was given (a token) to its stderr: its log is
        # for the account that runs it alone.
        self._log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._log = log_file(self._log_dir, self.name)
        self._log_start = self._log.stat().st_size if self._log.exists() else 0
        fd = os.open(self._log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)  # one made before, by whatever umask
        return os.fdopen(fd, "a", encoding="utf-8")

    def last_words(self) -> str:
        """What a stdio server that would not connect last wrote to its stderr this
        time ("ModuleNotFoundError: ..."), and where the rest is: the reason is
        usually there, not in "Connection closed"."""
        if self._log is None:
            return ""
        try:
            with open(self._log, encoding="utf-8", errors="replace") as log_file:
                log_file.seek(self._log_start)
                lines = [line.strip() for line in log_file.read().splitlines() if line.strip()]
        except OSError:
            return ""
        if not lines:
            return ""
        last = lines[-1] if len(lines[-1]) <= _LAST_WORDS else lines[-1][:_LAST_WORDS] + "…"
        # The error reaches whoever may read the API: a server echoing a secret it
        # was given must not show it there.
        assert isinstance(self._server, StdioServer)
        for secret in self._server.env.values():
            if len(secret) >= _SECRET_MIN:
                last = last.replace(secret, "***")
        return f"; its stderr ends: {last} (all of it: {self._log})"


_LAST_WORDS = 300
# Shorter values are not taken for secrets: hiding them would hide ordinary words.
_SECRET_MIN = 4


def log_file(log_dir: Path, server: str) -> Path:
    """The file a stdio server's stderr is written to."""
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in server) or "server"
    return log_dir / f"{name}.log"
