"""Group commit: callers wait for their own write, and everything that queued
while one batch was being written goes out together in the next."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, write_batch: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write_batch = write_batch
        self._queue: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, item: T) -> None:
        """Return once the batch holding `item` is stored; raise if it was not."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self._write_batch([item for item, _ in batch])
            except Exception as err:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(err)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
