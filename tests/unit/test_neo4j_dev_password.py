"""The development Neo4j keeps its password across restarts on the same data: the
orchestrators configured with it keep working."""

from __future__ import annotations

import stat
from pathlib import Path

from orchestrator.graph.neo4j_server import dev_password


def test_a_restart_on_the_same_data_keeps_the_password(tmp_path: Path) -> None:
    first = dev_password(tmp_path / "neo4j")
    assert len(first) >= 16
    assert dev_password(tmp_path / "neo4j") == first
    assert dev_password(tmp_path / "other") != first
    # Only its owner may read it.
    assert stat.S_IMODE((tmp_path / "neo4j" / "password").stat().st_mode) == 0o600
