"""A stand-in for a cloud: clusters and the applications deployed on them.

`provision_cluster` reports progress node by node; `deploy` fails on purpose
when given `fail` (to exercise retries and rollbacks without editing code);
`get_cluster` waits `get_cluster_delay_s` of the state first, when it is set
(a quick tool turning slow, without a change to its definition).

    python -m tests.mcp_servers.cloud_server --state cloud.json [--transport http --port N]
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from tests.mcp_servers.common import (
    CREATES,
    DELETES,
    READ_ONLY,
    JsonState,
    add_status_tool,
    parse_args,
    serve,
)

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,38}$")]
Region = Annotated[
    str, Field(description="Region, e.g. eu-west-1", pattern=r"^[a-z]{2}-[a-z]+-\d$")
]
# Time each node takes to come up: short, so tests stay fast, but long enough
# for progress notifications to arrive one by one.
_NODE_SECONDS = 0.02


class Cluster(BaseModel):
    name: str
    region: str
    nodes: int
    endpoint: str


class Deployment(BaseModel):
    cluster: str
    app: str
    version: str
    url: str


def build(state: JsonState) -> MCPServer:
    server = MCPServer("cloud", instructions="Clusters and deployments.")
    add_status_tool(server)

    def find_cluster(data: dict[str, Any], name: str) -> dict[str, Any]:
        found: dict[str, Any] | None = data["clusters"].get(name)
        if found is None:
            raise ToolError(f"cluster {name!r} does not exist")
        return found

    @server.tool(annotations=CREATES)
    async def provision_cluster(
        name: Name, region: Region, ctx: Context, nodes: Annotated[int, Field(ge=1, le=50)] = 3,
    ) -> Cluster:
        """Provision a Kubernetes cluster; reports progress as each node comes up."""
        data = state.load()
        if name in data["clusters"]:
            raise ToolError(f"cluster {name!r} already exists")
        for node in range(1, nodes + 1):
            await asyncio.sleep(_NODE_SECONDS)
            await ctx.report_progress(node, nodes, f"node {node} of {nodes} ready")
        data["clusters"][name] = {"region": region, "nodes": nodes, "deployments": {}}
        state.save(data)
        return Cluster(name=name, region=region, nodes=nodes, endpoint=f"https://{name}.k8s.test")

    @server.tool(annotations=DELETES)
    def deprovision_cluster(name: Name) -> str:
        """Delete a cluster and everything deployed on it; a missing one is already gone."""
        data = state.load()
        existed = data["clusters"].pop(name, None) is not None
        state.save(data)
        return f"deprovisioned {name}" if existed else f"{name} did not exist"

    @server.tool(annotations=READ_ONLY)
    async def get_cluster(name: Name) -> Cluster:
        """Show one cluster."""
        data = state.load()
        await asyncio.sleep(data.get("get_cluster_delay_s", 0))
        c = find_cluster(data, name)
        return Cluster(name=name, region=c["region"], nodes=c["nodes"],
                       endpoint=f"https://{name}.k8s.test")

    @server.tool(annotations=CREATES)
    def deploy(
        cluster: Name, app: Name, version: str = "latest",
        fail: Annotated[
            str | None, Field(description="Fail with this message instead of deploying (tests)")
        ] = None,
    ) -> Deployment:
        """Deploy an application version to a cluster."""
        if fail:
            raise ToolError(fail)
        data = state.load()
        c = find_cluster(data, cluster)
        c["deployments"][app] = version
        state.save(data)
        return Deployment(cluster=cluster, app=app, version=version,
                          url=f"https://{app}.{cluster}.apps.test")

    @server.tool(annotations=DELETES)
    def undeploy(cluster: Name, app: Name) -> str:
        """Remove an application from a cluster."""
        data = state.load()
        c = data["clusters"].get(cluster)
        if c is not None:
            c["deployments"].pop(app, None)
        state.save(data)
        return f"undeployed {app} from {cluster}"

    return server


if __name__ == "__main__":
    args = parse_args("cloud")
    serve(build(JsonState(args.state, {"clusters": {}})), args)
