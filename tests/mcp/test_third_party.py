"""The reference servers other people wrote: `mcp-server-git` (PyPI) and the npm
`filesystem` and `everything` servers, at the versions pinned in tests/mcp_servers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.agents.registry import AgentRegistry
from orchestrator.devserver import free_port, listening
from orchestrator.errors import CannotPlan
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.mcp import (
    McpInvalidArguments,
    McpServerUnavailable,
    McpToolFailed,
    ToolProgress,
)
from orchestrator.models import AgentKind
from orchestrator.planning.offline import OfflinePlanner
from tests.mcp.conftest import HubFactory
from tests.mcp.support import node_server

pytestmark = pytest.mark.usefixtures("npm_servers")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "dev@example.com")
    git("config", "user.name", "Dev")
    (path / "README.md").write_text("# shop\n")
    git("add", "README.md")
    git("commit", "-q", "-m", "Initial commit")
    (path / "README.md").write_text("# shop\n\nNow with payments.\n")
    return path


def _git(repo: Path) -> dict[str, Any]:
    return {"command": sys.executable, "args": ["-m", "mcp_server_git", "--repository", str(repo)]}


async def test_git_server_reads_and_branches(make_hub: HubFactory, repo: Path) -> None:
    hub = make_hub({"git": _git(repo)})
    assert await hub.discover() == {}
    caps = {c.name: c for c in hub.capabilities}
    assert caps["mcp.git.git_status"].read_only and not caps["mcp.git.git_status"].sensitive
    assert caps["mcp.git.git_reset"].sensitive

    status = await hub.call_tool("git", "git_status", {"repo_path": str(repo)})
    assert "README.md" in status["text"]
    log = await hub.call_tool("git", "git_log", {"repo_path": str(repo), "max_count": 5})
    assert "Initial commit" in log["text"]
    await hub.call_tool("git", "git_create_branch", {"repo_path": str(repo), "branch_name": "pay"})
    assert (repo / ".git" / "refs" / "heads" / "pay").exists()


async def test_git_server_errors_are_tool_failures(make_hub: HubFactory, repo: Path) -> None:
    hub = make_hub({"git": _git(repo)})
    with pytest.raises(McpToolFailed, match="nope"):
        await hub.call_tool("git", "git_show", {"repo_path": str(repo), "revision": "nope"})


async def test_filesystem_server_writes_and_reads(make_hub: HubFactory, tmp_path: Path) -> None:
    root = tmp_path / "files"
    root.mkdir()
    hub = make_hub({"fs": node_server("server-filesystem", str(root))})
    target = str(root / "notes.txt")
    await hub.call_tool("fs", "write_file", {"path": target, "content": "hello\nworld\n"})
    assert (root / "notes.txt").read_text() == "hello\nworld\n"
    read = await hub.call_tool("fs", "read_text_file", {"path": target})
    assert read["structured_content"] == {"content": "hello\nworld\n"}
    listing = await hub.call_tool("fs", "list_directory", {"path": str(root)})
    assert "[FILE] notes.txt" in listing["text"]


async def test_filesystem_server_refusals(make_hub: HubFactory, tmp_path: Path) -> None:
    root = tmp_path / "files"
    root.mkdir()
    hub = make_hub({"fs": node_server("server-filesystem", str(root))})
    with pytest.raises(McpToolFailed, match=r"(?i)access denied"):
        await hub.call_tool("fs", "read_text_file", {"path": str(tmp_path / "outside.txt")})
    # A nested violation is named by its path into the arguments.
    with pytest.raises(McpInvalidArguments) as raised:
        await hub.call_tool("fs", "edit_file", {
            "path": str(root / "x.txt"), "edits": [{"oldText": "a"}],
        })
    assert raised.value.field == "edits.0.newText"


async def test_everything_server_progress_structure_and_errors(make_hub: HubFactory) -> None:
    hub = make_hub({"everything": node_server("server-everything")})
    seen: list[ToolProgress] = []
    done = await hub.call_tool(
        "everything", "trigger-long-running-operation", {"duration": 0.3, "steps": 3},
        progress=seen.append,
    )
    assert "completed" in done["text"]
    assert [(p.progress, p.total) for p in seen] == [(1, 3), (2, 3), (3, 3)]

    weather = await hub.call_tool("everything", "get-structured-content", {"location": "Chicago"})
    assert set(weather["structured_content"]) >= {"temperature", "conditions", "humidity"}

    image = await hub.call_tool("everything", "get-tiny-image", {})
    assert [block["type"] for block in image["content"]] == ["image"]

    with pytest.raises(McpInvalidArguments, match="field 'a'"):
        await hub.call_tool("everything", "get-sum", {"a": "one", "b": 2})
    with pytest.raises(McpToolFailed, match="Unsupported URL protocol"):
        await hub.call_tool("everything", "gzip-file-as-resource",
                            {"name": "x", "data": "ftp://example.com/x"})
    assert {c.name for c in hub.capabilities} >= {
        "mcp.everything.get-sum", "mcp.everything.trigger-long-running-operation",
    }
    # Its tool that answers only task-augmented calls is not offered: every call
    # to it would fail ("requires task augmentation").
    assert "mcp.everything.simulate-research-query" not in {c.name for c in hub.capabilities}


async def test_a_file_named_in_words_is_the_filesystem_tools_path(
    make_hub: HubFactory, tmp_path: Path, store: EmbeddedGraphStore
) -> None:
    root = tmp_path / "files"
    root.mkdir()
    hub = make_hub({"fs": node_server("server-filesystem", str(root))})
    assert await hub.discover() == {}
    registry = AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)
    registry.replace_kind(AgentKind.MCP, hub.capabilities, hub.agents)
    planner = OfflinePlanner(registry, store)
    plan = await planner.plan(f"fs write file {root}/notes.txt content=hello")
    assert [(s.capability, s.parameters) for s in plan.steps] == [
        ("mcp.fs.write_file", {"path": f"{root}/notes.txt", "content": "hello"})]
    # What follows "with" is the file's content, when the tool knows none of it.
    plan = await planner.plan(f"fs write file {root}/notes.txt with hello to the team")
    assert [s.parameters for s in plan.steps] == [
        {"path": f"{root}/notes.txt", "content": "hello to the team"}]
    # A tool whose whole name is said wins over those that only share its words.
    for said, tool in ((f"fs read file {root}/notes.txt", "read_file"),
                       (f"fs list directory path={root}", "list_directory"),
                       (f"fs list_directory path={root}", "list_directory")):
        assert [s.capability for s in (await planner.plan(said)).steps] == [f"mcp.fs.{tool}"]
    # A version is not a path: the word is still not understood.
    with pytest.raises(CannotPlan, match="no tool knows '1', '2', 'v'"):
        await planner.plan("fs write file v1.2 content=hello")


@pytest.mark.parametrize(("request_words", "tool"), [
    # "show" is also in git_show's name: it must not outweigh the word naming the tool.
    ("show git status of the repo", "git_status"),
    ("show the git log", "git_log"),
    ("git show the commit revision=HEAD", "git_show"),
])
async def test_git_requests_in_words_get_the_tool_they_name(
    make_hub: HubFactory, repo: Path, store: EmbeddedGraphStore, request_words: str, tool: str
) -> None:
    hub = make_hub({"git": _git(repo)})
    assert await hub.discover() == {}
    registry = AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)
    registry.replace_kind(AgentKind.MCP, hub.capabilities, hub.agents)
    planner = OfflinePlanner(registry, store)
    plan = await planner.plan(f"{request_words} repo_path={repo}")
    assert [s.capability for s in plan.steps] == [f"mcp.git.{tool}"]
    # Without the path, the answer asks for it (the repo is the tool's repo_path).
    with pytest.raises(CannotPlan, match=f"to call mcp.git.{tool} I need its repo_path"):
        await planner.plan(request_words)


async def test_everything_over_http_restarted_gets_a_new_session(make_hub: HubFactory) -> None:
    """server-everything refuses a session it does not know with HTTP 400 ("No valid
    session ID provided"), not 404: one retryable failure, then a fresh session."""
    port = free_port()
    entry = node_server("server-everything", "streamableHttp")
    env = {**os.environ, "PORT": str(port)}

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([entry["command"], *entry["args"]], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not listening(port):
            assert time.monotonic() < deadline and process.poll() is None, "not listening"
            time.sleep(0.05)
        return process

    server = start()
    try:
        hub = make_hub({"evh": {"url": f"http://127.0.0.1:{port}/mcp"}})
        assert (await hub.call_tool("evh", "echo", {"message": "one"}))["text"] == "Echo: one"
        server.kill()
        server.wait()
        server = start()
        with pytest.raises(McpServerUnavailable, match="lost the session") as raised:
            await hub.call_tool("evh", "echo", {"message": "two"})
        assert raised.value.retryable
        assert (await hub.call_tool("evh", "echo", {"message": "two"}))["text"] == "Echo: two"
        assert hub.pool.opened("evh") == 2
    finally:
        server.kill()
        server.wait()
