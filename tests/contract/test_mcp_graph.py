"""MCP servers in the graph: (McpServer)-[:EXPOSES]->(Tool)-[:IMPLEMENTS]->(Capability),
kept current as servers change their tools and leave."""

from __future__ import annotations

from orchestrator.graph.store import GraphStore, McpServerRecord, ToolRecord
from orchestrator.models import Agent, AgentKind, Capability

_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}}


def _cap(name: str) -> Capability:
    return Capability(name=name, description=f"{name} it", input_schema=_SCHEMA)


CAPS = [_cap("mcp.github.create_repository"), _cap("mcp.github.delete_repository"),
        _cap("cloud.deploy")]
AGENTS = [
    Agent(id="mcp-github", kind=AgentKind.MCP,
          capabilities=["mcp.github.create_repository", "mcp.github.delete_repository"]),
    Agent(id="mcp-aws", kind=AgentKind.MCP, capabilities=["cloud.deploy"]),
    Agent(id="mcp-gcp", kind=AgentKind.MCP, capabilities=["cloud.deploy"]),
]


def _github(*tools: str) -> McpServerRecord:
    return McpServerRecord(name="github", agent="mcp-github", tools=[
        ToolRecord(name=t, capability=f"mcp.github.{t}", description=f"{t} it",
                   sensitive=t.startswith("delete"))
        for t in tools
    ])


async def test_servers_expose_tools_implementing_capabilities(graph: GraphStore) -> None:
    await graph.register_catalogue(CAPS, AGENTS)
    shared = [
        McpServerRecord(name=n, agent=f"mcp-{n}", tools=[
            ToolRecord(name="deploy", capability="cloud.deploy", read_only=False)])
        for n in ("aws", "gcp")
    ]
    await graph.register_mcp_servers([_github("create_repository", "delete_repository"),
                                      *shared])
    # Written twice: idempotent.
    await graph.register_mcp_servers([_github("create_repository", "delete_repository")])
    servers = await graph.mcp_servers()
    assert [s.name for s in servers] == ["aws", "gcp", "github"]
    github = servers[2]
    assert github.agent == "mcp-github"
    assert [(t.name, t.capability, t.sensitive) for t in github.tools] == [
        ("create_repository", "mcp.github.create_repository", False),
        ("delete_repository", "mcp.github.delete_repository", True),
    ]
    # Two servers' tools implement one capability.
    assert [(s.name, s.tools[0].capability) for s in servers[:2]] == [
        ("aws", "cloud.deploy"), ("gcp", "cloud.deploy")]
    counts = await graph.counts()
    assert counts["EXPOSES"] == 4 and counts["IMPLEMENTS"] == 4 and counts["Tool"] == 4


async def test_tools_a_server_no_longer_exposes_leave_the_graph(graph: GraphStore) -> None:
    await graph.register_catalogue(CAPS, AGENTS)
    await graph.register_mcp_servers([_github("create_repository", "delete_repository")])
    await graph.register_mcp_servers([_github("create_repository")])
    [github] = await graph.mcp_servers()
    assert [t.name for t in github.tools] == ["create_repository"]
    assert (await graph.counts())["Tool"] == 1

    await graph.register_mcp_servers([_github()])
    assert await graph.mcp_servers() == [McpServerRecord(name="github", agent="mcp-github")]
    await graph.forget_mcp_server("github")
    await graph.forget_mcp_server("github")
    assert await graph.mcp_servers() == []
    counts = await graph.counts()
    assert counts.get("Tool", 0) == 0 and counts.get("McpServer", 0) == 0
    # The capabilities stay: they belong to the catalogue, not to the server.
    assert counts["Capability"] == 3


async def test_a_tool_published_under_another_name_implements_only_that(
    graph: GraphStore,
) -> None:
    await graph.register_catalogue(CAPS, AGENTS)
    await graph.register_mcp_servers([_github("create_repository")])
    renamed = McpServerRecord(name="github", agent="mcp-github", tools=[
        ToolRecord(name="create_repository", capability="cloud.deploy")])
    await graph.register_mcp_servers([renamed])
    [github] = await graph.mcp_servers()
    assert [t.capability for t in github.tools] == ["cloud.deploy"]
    assert (await graph.counts())["IMPLEMENTS"] == 1
