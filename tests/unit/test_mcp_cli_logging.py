"""`orchestrator mcp ...` quiets connection chatter only while it runs: a caller in
the same process keeps its logging."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from orchestrator.cli import main


@pytest.mark.usefixtures("logger_levels")
def test_an_mcp_command_leaves_the_callers_log_levels_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_DATA_DIR", str(tmp_path))
    logging.getLogger("orchestrator.mcp").setLevel(logging.INFO)
    assert main(["mcp", "list"]) == 0
    assert logging.getLogger("orchestrator.mcp").level == logging.INFO
    assert logging.getLogger("mcp").level == logging.NOTSET
