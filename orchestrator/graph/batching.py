"""Group commit: callers wait for their own write, and everything that queued
while one batch was being written goes out together in the next."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

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

    def queued(self) -> list[T]:
        """What waits for the next batch."""
        return [item for item, _ in self._queue]

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


class RecentIds:
    """The most recent ids seen, up to a bound: what a long-lived process remembers
    without growing forever (forgetting only costs a redundant idempotent write)."""

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._ids: dict[str, None] = {}

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def update(self, ids: Iterable[str]) -> None:
        for i in ids:
            self._ids.pop(i, None)
            self._ids[i] = None
        while len(self._ids) > self._limit:
            del self._ids[next(iter(self._ids))]


def ignore_failure(task: asyncio.Task[Any]) -> None:
    """Done-callback of a read started in the background, which no one may await:
    its failure is not an error there (the next reader that needs it reads)."""
    if not task.cancelled():
        task.exception()


async def stop(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task if it still runs, and wait until it has stopped."""
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
