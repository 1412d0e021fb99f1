"""Several MCP servers as agents of one run (S4): stdio and streamable HTTP side by
side, outputs of one tool feeding the next, and compensations undoing it all."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.agents.base import StepContext
from orchestrator.mcp import McpHub, save_config
from orchestrator.mcp.config import parse_config
from orchestrator.settings import Settings
from tests.mcp.conftest import HubFactory
from tests.mcp.support import HttpServerProcess, python_server


def _ctx(step: str) -> StepContext:
    return StepContext(workflow_id="wf-s4", step_id=step, attempt=1)


async def test_three_servers_run_in_order_and_compensate(
    make_hub: HubFactory, tmp_path: Path, cloud_http: HttpServerProcess
) -> None:
    github_state, chat_state = tmp_path / "github.json", tmp_path / "chat.json"
    hub = make_hub({
        "github": python_server("github_server", "--state", str(github_state), tools={
            "create_repository": {"produces": ["repository"], "compensation": "delete_repository"},
        }),
        "aws": cloud_http.entry(tools={
            "provision_cluster": {"produces": ["cluster"], "compensation": "deprovision_cluster"},
            "deploy": {"consumes": ["repository", "cluster"], "produces": ["deployment"],
                       "compensation": "undeploy"},
        }),
        "slack": python_server("chat_server", "--state", str(chat_state), tools={
            "post_message": {"consumes": ["deployment"], "compensation": "delete_message"},
        }),
    })
    assert await hub.discover() == {}
    assert [a.id for a in hub.agents] == ["mcp-aws", "mcp-github", "mcp-slack"]
    caps = {c.name: c for c in hub.capabilities}
    assert caps["mcp.aws.deploy"].consumes == ["repository", "cluster"]
    assert caps["mcp.aws.deploy"].compensation == "mcp.aws.undeploy"

    repo = await hub.run("mcp.github.create_repository", {"name": "storefront"}, _ctx("repo"))
    cluster = await hub.run("mcp.aws.provision_cluster",
                            {"name": "s4-prod", "region": "us-east-1", "nodes": 2}, _ctx("cluster"))
    deployed = await hub.run("mcp.aws.deploy", {
        "cluster": cluster.output["structured_content"]["name"],
        "app": repo.output["structured_content"]["name"],
    }, _ctx("deploy"))
    url = deployed.output["structured_content"]["url"]
    posted = await hub.run("mcp.slack.post_message",
                           {"channel": "releases", "text": f"storefront is live at {url}"},
                           _ctx("notify"))
    assert url == "https://storefront.s4-prod.apps.test"
    messages = json.loads(chat_state.read_text())["channels"]["releases"]
    assert [m["text"] for m in messages] == ["storefront is live at " + url]

    # Roll back in reverse order with each capability's declared compensation.
    await hub.run(caps["mcp.slack.post_message"].compensation or "", {
        "channel": "releases", "message_id": posted.output["structured_content"]["id"],
    }, _ctx("undo-notify"))
    await hub.run("mcp.aws.undeploy", {"cluster": "s4-prod", "app": "storefront"}, _ctx("u1"))
    await hub.run("mcp.aws.deprovision_cluster", {"name": "s4-prod"}, _ctx("u2"))
    await hub.run("mcp.github.delete_repository", {"name": "storefront"}, _ctx("u3"))
    assert json.loads(chat_state.read_text())["channels"]["releases"] == []
    assert json.loads(github_state.read_text())["repositories"] == {}
    assert "s4-prod" not in json.loads(cloud_http.state.read_text())["clusters"]


async def test_hub_from_settings_reads_the_config_file(tmp_path: Path) -> None:
    config_path = tmp_path / "mcp.json"
    save_config(parse_config({"mcpServers": {
        "github": python_server("github_server", "--state", str(tmp_path / "gh.json")),
    }}), config_path)
    settings = Settings(data_dir=tmp_path / "data", mcp_config=config_path,
                        mcp_inline_max_bytes=2048)
    async with McpHub.from_settings(settings) as hub:
        await hub.call_tool("github", "create_repository", {"name": "big"})
        output = await hub.call_tool("github", "list_commits", {"repository": "big", "count": 40})
        assert "blob" in output
        assert (settings.blobs_dir / output["blob"]["sha256"][:2]).is_dir()
        assert (settings.mcp_dir / "pins.json").exists()
        # The stdio server's stderr goes to a log file per server, for this account
        # alone (a server may write what it was given there).
        log = settings.mcp_dir / "logs" / "github.log"
        assert log.exists() and log.stat().st_mode & 0o777 == 0o600
        assert log.parent.stat().st_mode & 0o777 == 0o700


async def test_hub_without_config_has_no_capabilities(tmp_path: Path) -> None:
    async with McpHub.from_settings(Settings(data_dir=tmp_path)) as hub:
        assert await hub.discover() == {}
        assert hub.capabilities == [] and hub.agents == []
