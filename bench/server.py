"""The Temporal server a benchmark runs on: the one given, or a dev server of its own."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from orchestrator.devserver import DevServer, free_port
from workflows import search_attributes as sa


@contextlib.asynccontextmanager
async def temporal_at(address: str | None) -> AsyncIterator[str]:
    """Yield the address to use; start (and stop) a dev server when none is given."""
    if address is not None:
        yield address
        return
    server = DevServer(free_port(), search_attributes=sa.DEFINITIONS)
    await server.start()
    print(f"dev server at {server.address}")
    try:
        yield server.address
    finally:
        await server.stop()
