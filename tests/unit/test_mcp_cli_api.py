"""`orchestrator mcp ... --api`: the mcp commands edit the config file, and say so
to whoever gives them the API by habit, as every other command takes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.cli import main


@pytest.mark.parametrize("args", [["list"], ["tools", "git"], ["remove", "git"],
                                  ["approve", "git", "git_log"],
                                  ["add", "git", "--command", "mcp-server-git"]])
def test_an_mcp_command_given_the_api_says_what_it_works_on(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_DATA_DIR", str(tmp_path))
    assert main(["mcp", *args, "--api", "http://127.0.0.1:9000/"]) == 2
    told = capsys.readouterr().err
    assert told == (f"orchestrator mcp: --api: the mcp commands edit the config file "
                    f"({tmp_path / 'mcp.json'}), which a running orchestrator reads as it "
                    "changes; the API's servers are at http://127.0.0.1:9000/v1/mcp/servers\n")
    # Nothing was written.
    assert not (tmp_path / "mcp.json").exists()
