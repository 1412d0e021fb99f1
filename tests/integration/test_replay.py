"""Golden histories replay against the current workflow code."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.orchestration import OrchestrationWorkflow

HISTORIES = {
    path.stem: path.read_text()
    for path in sorted((Path(__file__).parents[1] / "histories").glob("*.json"))
}


def test_golden_histories_exist() -> None:
    assert set(HISTORIES) >= {"s1"}


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_golden_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    replayer = Replayer(workflows=[OrchestrationWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
