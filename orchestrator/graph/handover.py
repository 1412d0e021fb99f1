"""Runs' final mirrors a store takes over: written in the background, so that a
run's last workflow task need not wait for the graph's commit.

A run's final mirror was the one graph write a run waited for: ~9 ms of
statements in the embedded store, inside the workflow task that completes the
run (a tenth of an S1 run with zero-work agents). A store whose every reader is
in this process (the embedded one: one process holds it) can take the record
and answer at once, and still have every reader see it: reads wait for the
records taken before them (`settled`), so a caller told the run ended finds its
end in the graph, and the next plan counts its outcomes.

What a process dying before the commit would lose, the journal keeps: each
record taken is appended to a file in the store's directory (flushed to the
operating system, which keeps it when the process is killed) and the store
writes what it finds there when it opens next. Journal segments are removed once
every record in them is written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from orchestrator.models import RunRecord

log = logging.getLogger(__name__)
# Waits between tries of a record the graph did not take; the last one repeats.
RETRY_S = (0.2, 1.0, 5.0)
# A read waits at most this long for the records taken before it: a graph that
# keeps refusing a write must not stop every reader too.
READ_WAIT_S = 5.0
# A segment taking more than this while records in it are unwritten, the next
# record starts another: a busy process's journal does not grow for ever.
SEGMENT_BYTES = 1 << 20
PATTERN = "finals-*.jsonl"


class Handover:
    def __init__(self, write: Callable[[RunRecord], Awaitable[None]], directory: Path) -> None:
        self._write = write
        self._directory = directory
        self._tasks: set[asyncio.Task[None]] = set()
        # Unwritten records in each segment; the newest segment is the one written to.
        self._unwritten: dict[Path, int] = {}
        self._segment: Path | None = None
        self._file: IO[str] | None = None
        self._closing = False

    async def replay(self) -> int:
        """Write what the journal holds (taken by a process that ended before
        writing it), then remove it; how many records."""
        segments = sorted(self._directory.glob(PATTERN), key=_number)
        records = [record for segment in segments for record in _records(segment)]
        # Together: the store's group commit writes them in a few transactions.
        await asyncio.gather(*(self._write(record) for record in records))
        for segment in segments:
            segment.unlink()
        if records:
            log.info("wrote the final mirrors of %d run(s) that a process ended before "
                     "writing: %s", len(records), ", ".join(r.workflow_id for r in records))
        return len(records)

    def take(self, record: RunRecord) -> None:
        """Journal the record and write it in the background."""
        segment = self._journal(record.model_dump_json())
        task = asyncio.create_task(self._until_written(record), name=f"final-{record.workflow_id}")
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._written(done, segment))

    async def settled(self) -> None:
        """Wait until the records taken so far are written (at most READ_WAIT_S)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=READ_WAIT_S)

    async def close(self) -> None:
        """Write what was taken, for at most READ_WAIT_S; what is left stays in the
        journal for the next start."""
        await self.settled()
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        # The tasks' cancellations are returned, not raised: a cancel of the close
        # itself still propagates.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._file is not None:
            self._file.close()
            self._file = None

    def _journal(self, line: str) -> Path:
        if self._file is None or (self._unwritten.get(self._segment_path(), 0)
                                  and self._file.tell() > SEGMENT_BYTES):
            self._open_segment()
        assert self._file is not None
        self._file.write(line + "\n")
        self._file.flush()
        segment = self._segment_path()
        self._unwritten[segment] = self._unwritten.get(segment, 0) + 1
        return segment

    def _segment_path(self) -> Path:
        assert self._segment is not None
        return self._segment

    def _open_segment(self) -> None:
        if self._file is not None:
            self._file.close()
        taken = [_number(p) for p in self._directory.glob(PATTERN)]
        self._segment = self._directory / f"finals-{max(taken, default=0) + 1}.jsonl"
        self._file = self._segment.open("a", encoding="utf-8")

    async def _until_written(self, record: RunRecord) -> None:
        tries = 0
        while True:
            try:
                await self._write(record)
                return
            except Exception as err:  # the graph refusing must not lose the record
                delay = RETRY_S[min(tries, len(RETRY_S) - 1)]
                tries += 1
                log.warning("the final mirror of run %s waits for the graph (try %d): %s",
                            record.workflow_id, tries, err)
                await asyncio.sleep(delay)

    def _written(self, task: asyncio.Task[None], segment: Path) -> None:
        self._tasks.discard(task)
        if task.cancelled() or self._closing:
            return  # left in the journal: the next start writes it
        self._unwritten[segment] -= 1
        if self._unwritten[segment]:
            return
        del self._unwritten[segment]
        if segment == self._segment and self._file is not None:
            self._file.truncate(0)
            self._file.seek(0)
        else:
            segment.unlink(missing_ok=True)


def _number(path: Path) -> int:
    return int(path.stem.removeprefix("finals-"))


def _records(path: Path) -> list[RunRecord]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(RunRecord.model_validate_json(line))
        except ValidationError:
            # Cut short by the process ending as it wrote: the run had not been
            # told it ended (the activity had not returned), so its workflow
            # task is made again and mirrors its end once more.
            log.warning("skipped a journal line of %s that holds no whole record", path)
    return records
