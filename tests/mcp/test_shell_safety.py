"""Arguments in an `mcpServers` entry reach the server as they are: no shell ever
sees them, so metacharacters in them are plain characters."""

from __future__ import annotations

import json
from pathlib import Path

from tests.mcp.conftest import HubFactory
from tests.mcp.support import ROOT, python_server

# Each of these would create a file named `pwned...` if a shell read the argument.
HOSTILE = "state;touch pwned1;$(touch pwned2)`touch pwned3`|tee pwned4&&touch pwned5>x.json"


def _pwned(where: Path) -> list[str]:
    return sorted(p.name for p in where.iterdir() if p.name.startswith("pwned"))


async def test_metacharacters_in_arguments_and_env_are_never_interpreted(
    make_hub: HubFactory, tmp_path: Path
) -> None:
    entry = python_server("github_server", "--state", HOSTILE)
    # Run from the test's directory, so that a relative `touch` would land there.
    entry["cwd"] = str(tmp_path)
    entry["env"] = {"PYTHONPATH": str(ROOT), "GREETING": "$(touch pwned6); echo hi"}
    hub = make_hub({"github": entry})
    created = await hub.call_tool("github", "create_repository", {"name": "safe"})
    assert created["structured_content"]["name"] == "safe"
    # The whole argument was one file name.
    state = tmp_path / HOSTILE
    assert "safe" in json.loads(state.read_text())["repositories"]
    assert _pwned(tmp_path) == []
    assert not (ROOT / "pwned1").exists()
