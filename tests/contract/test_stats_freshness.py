"""Agents' statistics as planning reads them: kept between plans, never stale for
this process's own outcomes, and counted once however a final mirror arrives."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from orchestrator.graph import queries as q
from orchestrator.graph.cypher_store import CypherStore
from orchestrator.graph.results import Rows, read_agent_stats
from orchestrator.graph.store import GraphStore
from orchestrator.models import Outcome, RunRecord, RunStatus, StepStatus
from tests.contract.test_graph_store import AGENTS, CAPABILITIES, _run, _step


def _final(wf: str, ok: bool) -> RunRecord:
    return _run(wf, RunStatus.COMPLETED, [_step(wf, "app", StepStatus.COMPLETED)]).model_copy(
        update={"outcomes": [Outcome(step_id="app", agent="application-agent",
                                     capability="application.create", ok=ok, duration_ms=40)]}
    )


async def test_a_runs_outcomes_are_read_at_once_after_its_final_mirror(
    graph: GraphStore,
) -> None:
    await graph.register_catalogue(CAPABILITIES, AGENTS)
    key = "application-agent/application.create"
    assert (await graph.agent_stats())[key].runs == 0
    for i, ok in enumerate([True, False, True]):
        await graph.record_run(_final(f"wf{i}", ok))
        seen = (await graph.agent_stats())[key]
        assert (seen.runs, seen.successes) == (i + 1, [1, 1, 2][i])


async def test_one_final_mirror_sent_twice_in_one_batch_counts_once(graph: GraphStore) -> None:
    await graph.register_catalogue(CAPABILITIES, AGENTS)
    final = _final("wf", True)
    # Queued together, the copies share one transaction.
    await asyncio.gather(graph.record_run(final), graph.record_run(final))
    stats = await graph.agent_stats()
    assert stats["application-agent/application.create"].model_dump() == {
        "runs": 1, "successes": 1, "total_ms": 40, "recent_ms": 40.0, "recent_ok": 1.0}
    # Sent again later (a retried final mirror): the outcome is known, not counted.
    await graph.record_run(final)
    stats = await graph.agent_stats()
    assert stats["application-agent/application.create"].model_dump() == {
        "runs": 1, "successes": 1, "total_ms": 40, "recent_ms": 40.0, "recent_ok": 1.0}


async def test_statistics_handed_out_are_the_callers_own(graph: GraphStore) -> None:
    await graph.register_catalogue(CAPABILITIES, AGENTS)
    first = await graph.agent_stats()
    first["application-agent/application.create"].runs = 99
    assert (await graph.agent_stats())["application-agent/application.create"].runs == 0


async def test_own_outcomes_join_the_kept_statistics_as_the_graph_counts_them(
    graph: GraphStore,
) -> None:
    assert isinstance(graph, CypherStore)
    await graph.register_catalogue(CAPABILITIES, AGENTS)
    graph._stats._max_age_s = 3600.0  # only writes may change what is kept here
    await graph.agent_stats()
    read = graph._read
    stats_reads = 0

    async def counting_read(query: str, **params: Any) -> Rows:
        nonlocal stats_reads
        stats_reads += query == q.AGENT_STATS
        return await read(query, **params)

    setattr(graph, "_read", counting_read)  # noqa: B010 - instance override on purpose
    final = _final("wf-a", True)
    for record in [final, _final("wf-b", False), final, _final("wf-c", True)]:
        await graph.record_run(record)
        assert await graph.agent_stats() == await read_agent_stats(read)
    assert stats_reads == 0
    kept = (await graph.agent_stats())["application-agent/application.create"].model_dump()
    # The recent success rate: 1, then a fifth of the way to 0, then to 1 again.
    assert kept.pop("recent_ok") == pytest.approx(0.84)
    assert kept == {"runs": 3, "successes": 2, "total_ms": 120, "recent_ms": 40.0}
