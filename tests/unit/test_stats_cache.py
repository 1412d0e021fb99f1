"""The cache of agents' statistics: one read serves many plans, a write is never
hidden by a read that began before it, and the next read happens off the path."""

from __future__ import annotations

import asyncio

from orchestrator.graph.stats_cache import Stats, StatsCache
from orchestrator.models import AgentStats


class Graph:
    """Statistics that change when told, read with a delay while `slow` is set."""

    def __init__(self) -> None:
        self.runs = 0
        self.reads = 0
        self.slow = asyncio.Event()
        self.slow.set()

    async def read(self) -> Stats:
        self.reads += 1
        runs = self.runs
        await self.slow.wait()
        return {"a/x.create": AgentStats(runs=runs)}


async def test_plans_share_one_read_until_a_write() -> None:
    graph = Graph()
    cache = StatsCache(graph.read)
    seen = await asyncio.gather(*(cache.get() for _ in range(20)))
    assert graph.reads == 1 and {s["a/x.create"].runs for s in seen} == {0}
    graph.runs = 1
    cache.invalidate()
    assert (await cache.get())["a/x.create"].runs == 1
    assert graph.reads == 2


async def test_after_a_write_the_next_read_starts_at_once() -> None:
    graph = Graph()
    cache = StatsCache(graph.read)
    await cache.get()
    graph.runs = 1
    cache.invalidate()
    await asyncio.sleep(0)  # no reader yet: the read runs anyway
    assert graph.reads == 2
    assert (await cache.get())["a/x.create"].runs == 1
    assert graph.reads == 2


async def test_a_read_begun_before_a_write_is_not_kept() -> None:
    graph = Graph()
    cache = StatsCache(graph.read)
    await cache.get()
    graph.runs = 1
    graph.slow.clear()
    cache.invalidate()  # reads runs=1, slowly
    await asyncio.sleep(0)
    graph.runs = 2
    cache.invalidate()  # a write lands while that read is under way
    reader = asyncio.create_task(cache.get())
    await asyncio.sleep(0)
    graph.slow.set()
    assert (await reader)["a/x.create"].runs == 2
    assert (await cache.get())["a/x.create"].runs == 2


async def test_a_value_older_than_its_age_is_handed_out_at_once_and_read_again() -> None:
    graph = Graph()
    cache = StatsCache(graph.read, max_age_s=0.0)
    await cache.get()
    graph.runs = 3  # another process counted outcomes
    graph.slow.clear()
    # The plan that finds the value old does not wait for the read it starts...
    stale = await asyncio.wait_for(cache.get(), timeout=1.0)
    assert stale["a/x.create"].runs == 0 and graph.reads == 2
    graph.slow.set()
    await asyncio.sleep(0)
    # ...and the plans after it get what that read found.
    assert (await cache.get())["a/x.create"].runs == 3
    await cache.close()


async def test_a_failed_background_read_leaves_the_next_reader_to_read() -> None:
    graph = Graph()
    failing = True

    async def read() -> Stats:
        if failing:
            raise RuntimeError("graph down")
        return await graph.read()

    cache = StatsCache(read)
    failing = False
    await cache.get()
    failing = True
    cache.invalidate()
    await asyncio.sleep(0)  # the background read fails, unawaited
    failing = False
    assert (await cache.get())["a/x.create"].runs == 0
    await cache.close()


async def test_writes_with_no_plan_between_them_are_not_read_after_each() -> None:
    graph = Graph()
    cache = StatsCache(graph.read)
    await cache.get()
    for runs in range(1, 6):  # a burst of runs ending while nothing plans
        graph.runs = runs
        cache.invalidate()
        await asyncio.sleep(0)
    assert graph.reads == 2  # the first write's read; none after it
    assert (await cache.get())["a/x.create"].runs == 5


async def test_a_prefetch_is_the_first_plans_read_and_a_write_meanwhile_reads_again(
) -> None:
    graph = Graph()
    cache = StatsCache(graph.read)
    graph.slow.clear()
    cache.prefetch()
    await asyncio.sleep(0)
    assert graph.reads == 1
    reader = asyncio.create_task(cache.get())  # waits for that read, starts none
    await asyncio.sleep(0)
    graph.slow.set()
    assert (await reader)["a/x.create"].runs == 0 and graph.reads == 1
    # Prefetched and not yet read by a plan, the value is still read again after a write.
    cache = StatsCache(graph.read)
    graph.slow.clear()
    cache.prefetch()
    await asyncio.sleep(0)
    graph.runs = 1
    cache.invalidate()
    graph.slow.set()
    await asyncio.sleep(0.01)
    assert graph.reads == 3
    assert (await cache.get())["a/x.create"].runs == 1 and graph.reads == 3
