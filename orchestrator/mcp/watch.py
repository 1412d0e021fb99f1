"""Edits to the MCP config file reach a running process.

`orchestrator mcp add|remove` runs in a process of its own, and people edit
`mcp.json` by hand: either way the file changes under an `up` or a worker that
read it at start. Left alone, the change would wait for the next start with
nothing saying so. The file is looked at every second (a stat, nothing more);
once it changed, it is read and checked as at start-up and the hub serves what
it says (`McpAdmin.follow`). A file that does not parse is logged and ignored:
the servers served stay as they were, and the next edit is looked at again. So
is a file gone: tools that save by deleting and writing again would otherwise
close every session for a moment (to remove every server: `{"mcpServers": {}}`).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from orchestrator.errors import OrchestratorError
from orchestrator.graph.batching import stop
from orchestrator.mcp.admin import McpAdmin
from orchestrator.mcp.config import load_config
from orchestrator.mcp.hub import McpHub

log = logging.getLogger(__name__)
EVERY_S = 1.0
# (modification time, size, inode): a save by rename changes the inode even
# when the time's resolution hides it.
Signature = tuple[int, int, int] | None


def signature(path: Path) -> Signature:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


class ConfigWatch:
    def __init__(self, hub: McpHub, path: Path, every_s: float = EVERY_S) -> None:
        self._admin = McpAdmin(hub, path)
        self._path = path
        self._every_s = every_s
        self._seen: Signature = None
        self._task: asyncio.Task[None] | None = None

    def start(self, built_from: Signature) -> None:
        """Watch for changes since the file was as `built_from` (its signature taken
        before the hub read it: an edit while the process started is not missed)."""
        self._seen = built_from
        self._task = asyncio.create_task(self._watch(), name="mcp-config-watch")

    async def close(self) -> None:
        await stop(self._task)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            now = signature(self._path)
            if now != self._seen:
                self._seen = now
                await self.apply()

    async def apply(self) -> None:
        """Serve what the file says now."""
        try:
            # Not `read_config`: a file gone is not an empty configuration here.
            config = await asyncio.to_thread(load_config, self._path)
        except OrchestratorError as error:
            log.warning("ignored the edit to %s; the MCP servers stay as they were: %s",
                        self._path, error)
            return
        followed = await self._admin.follow(config)
        if not followed:
            return  # written by this process (the API), or an edit that changes nothing
        log.info("%s changed: MCP servers added %s, removed %s, changed %s", self._path,
                 followed.added or "none", followed.removed or "none",
                 followed.changed or "none")
        servers = self._admin.hub.config.servers
        listing = [n for n in followed.added + followed.changed if not servers[n].disabled]
        failed = await self._admin.hub.discover(listing) if listing else {}
        for name, why in sorted(failed.items()):
            log.warning("MCP server %s did not answer; its tools come when it does: %s",
                        name, why)
