"""What a worker process does once it is up."""

from __future__ import annotations

import gc

from worker.runtime import started


def test_what_start_up_made_leaves_the_collectors_scans() -> None:
    made = [{"catalogue": i} for i in range(1_000)]  # objects the collector tracks
    gc.unfreeze()
    try:
        started()
        assert gc.get_freeze_count() >= len(made)
    finally:
        gc.unfreeze()  # the rest of the suite builds and drops runtimes
