"""What a worker process does once it is up."""

from __future__ import annotations

import gc

from worker.runtime import YOUNG_COLLECTION_EVERY, started


def test_what_start_up_made_leaves_the_collectors_scans() -> None:
    made = [{"catalogue": i} for i in range(1_000)]  # objects the collector tracks
    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        started()
        assert gc.get_freeze_count() >= len(made)
        assert gc.get_threshold() == (YOUNG_COLLECTION_EVERY, *thresholds[1:])
    finally:
        gc.unfreeze()  # the rest of the suite builds and drops runtimes
        gc.set_threshold(*thresholds)
