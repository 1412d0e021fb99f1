"""The embedded graph stays as fast with thousands of runs stored as empty: a run's
final mirror costs what the run writes, not what the graph holds, whether the runs
were there when the process started or were written by it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bench.graph_growth import Growth, measure, measure_grown

CASES = [
    # A store holding 5,000 runs against an empty one. Measured: x1.3 as it is;
    # x2.2 with MERGEs that scan the growing tables, x11 with a MATCH of two nodes
    # by id in one pattern, x14-27 with one plan for batches of every size.
    pytest.param(measure, 5000, 1.8, id="full-against-empty"),
    # A store grown run by run in this process against one reopened. Measured at
    # 2,000 runs: x1.11 as it is; x1.74 with the plans kept from when the store was
    # empty (OPERATES_ON 3.6 ms against 0.4, DEPENDS_ON 1.9 against 0.3).
    pytest.param(measure_grown, 1500, 1.35, id="grown-against-reopened"),
]


@pytest.mark.parametrize(("how", "stored", "most"), CASES)
async def test_a_final_mirror_costs_what_the_run_writes_not_what_the_graph_holds(
    tmp_path: Path, how: Callable[..., Awaitable[Growth]], stored: int, most: float
) -> None:
    growth = await how(tmp_path / "first", stored=stored, samples=15)
    if growth.ratio >= most:
        # A busy machine (2 shared cores) can slow one side of a measurement; the
        # slowdowns this guards against show in every measurement, so a second
        # one decides.
        growth = min(growth, await how(tmp_path / "again", stored=stored, samples=25),
                     key=lambda g: g.ratio)
    base, judged = growth.latencies
    assert growth.ratio < most, (
        f"final mirror p50 with {stored} runs: {base} {growth.p50(base):.1f} ms, "
        f"{judged} {growth.p50(judged):.1f} ms"
    )
