"""The embedded graph stays as fast with thousands of runs stored as empty: a run's
final mirror costs what the run writes, not what the graph holds."""

from __future__ import annotations

from pathlib import Path

from bench.graph_growth import measure

STORED = 5000
# Measured at 5,000 runs: x1.3 as it is; x2.2 with MERGEs that scan the growing
# tables, x11 with a MATCH of two nodes by id in one pattern, x14-27 with one
# plan for batches of every size.
MOST = 1.8


async def test_a_final_mirror_into_a_full_graph_costs_about_what_it_costs_empty(
    tmp_path: Path,
) -> None:
    growth = await measure(tmp_path, stored=STORED, samples=15)
    assert growth.ratio < MOST, (
        f"final mirror p50: empty {growth.p50('empty'):.1f} ms, "
        f"{STORED} runs stored {growth.p50(f'{STORED} runs'):.1f} ms"
    )
