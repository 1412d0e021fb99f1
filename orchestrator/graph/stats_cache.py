"""Agents' statistics as last read, so that planning does not scan every PROVIDES
relationship for every run.

Every plan reads them, and they change only when a run's outcomes are counted.
Outcomes this process counts are added to the cached value as their write
commits, as the graph adds them (so this process always sees its own outcomes,
without reading everything again after every run). Any other write that may
change them drops the cached value and, if a plan read it since the last read,
reads it again at once, in the background, off the next plan's path. Outcomes
that other processes count are read again once the value is `MAX_AGE_S` old: the
plan that finds it so gets it at once and starts the read for the plans after it
(with requests seconds apart, every plan waited for the read otherwise).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from orchestrator.graph.batching import RecentIds, ignore_failure, stop
from orchestrator.models import AgentStats

Stats = dict[str, AgentStats]
MAX_AGE_S = 1.0


class StatsCache:
    def __init__(self, read: Callable[[], Awaitable[Stats]], max_age_s: float = MAX_AGE_S
                 ) -> None:
        self._read = read
        self._max_age_s = max_age_s
        self._value: Stats | None = None
        self._read_at = 0.0
        # Bumped by every write that may change the statistics: a read that began
        # before the latest write is not kept.
        self._version = 0
        self._loading: asyncio.Task[tuple[Stats, bool]] | None = None
        # Read since the last read from the graph: only then is reading again in
        # the background worth it (under load, many writes come between plans).
        self._used = False
        # Outcomes already added: the graph counts each once, and so does this.
        self._counted = RecentIds()

    async def get(self) -> Stats:
        stats = await self._get()
        self._used = True
        return stats

    async def _get(self) -> Stats:
        for _ in range(3):
            if self._value is not None:
                if time.monotonic() - self._read_at >= self._max_age_s and (
                    self._loading is None or self._loading.done()
                ):
                    self._start()  # for the next readers, off this one's path
                return _copy(self._value)
            if self._loading is None or self._loading.done():
                self._start()
            assert self._loading is not None
            # Shared by every reader meanwhile; kept only if no write came during it.
            value, current = await asyncio.shield(self._loading)
            if current:
                return _copy(value)
        # Writes keep coming: a read begun after this call is as recent as it needs.
        return await self._read()

    def prefetch(self) -> None:
        """Start the first read now, off the first plan's path (a worker that just
        started): the plan then gets what it reads, or waits only for what is left."""
        if self._value is None and (self._loading is None or self._loading.done()):
            self._start()
            # As if read: a write meanwhile starts the read again.
            self._used = True

    def invalidate(self) -> None:
        """A write that may change the statistics was committed."""
        self._version += 1
        self._value = None
        # Read again at once, off the next reader's path; a read under way when
        # the write came starts the next one when it ends.
        if self._used and (self._loading is None or self._loading.done()):
            self._start()

    def counted(self, outcomes: Iterable[dict[str, Any]]) -> None:
        """A write counting these outcomes (rows of `COUNT_OUTCOMES`) committed."""
        fresh = [row for row in outcomes if row["id"] not in self._counted]
        self._counted.update(row["id"] for row in fresh)
        if not fresh:
            return
        # A read under way may or may not hold them: it is not kept.
        self._version += 1
        if self._value is None:
            return
        # As ADD_FRESH_OUTCOMES counts them: by agent and capability, each group
        # moving the recent duration once, by its mean.
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in fresh:
            groups.setdefault(f"{row['agent']}/{row['capability']}", []).append(row)
        for key, rows in groups.items():
            stats = self._value.get(key)
            if stats is None:  # a provider this value does not know yet
                self.invalidate()
                return
            stats.count(len(rows), sum(row["ok"] for row in rows),
                        sum(row["ms"] for row in rows))

    def _start(self) -> None:
        self._used = False
        self._loading = asyncio.get_running_loop().create_task(self._load())
        self._loading.add_done_callback(ignore_failure)

    async def _load(self) -> tuple[Stats, bool]:
        version, started = self._version, time.monotonic()
        value = await self._read()
        current = version == self._version
        if current:
            self._value, self._read_at = value, started
        elif self._used and asyncio.current_task() is self._loading:
            self._start()
        return value, current

    async def close(self) -> None:
        loading, self._loading = self._loading, None
        await stop(loading)


def _copy(stats: Stats) -> Stats:
    # Callers own what they get: the cached models stay as read.
    return {key: value.model_copy() for key, value in stats.items()}
