"""A run read from the graph, as the nodes and typed edges a drawing needs."""

from __future__ import annotations

from api.schemas import GraphEdge, GraphNode, RunGraphView
from orchestrator.graph.store import RunGraph


def run_graph_view(run: RunGraph) -> RunGraphView:
    workflow = f"workflow:{run.workflow_id}"
    nodes = [GraphNode(id=workflow, label="Workflow",
                       properties={"workflow_id": run.workflow_id, "status": run.status})]
    nodes += [
        GraphNode(id=f"step:{step}", label="Step", properties={"step_id": step, **fields})
        for step, fields in run.steps.items()
    ]
    nodes += [
        GraphNode(id=f"agent:{agent}", label="Agent", properties={"id": agent})
        for agent in sorted({agent for _, agent in run.executed_by})
    ]
    nodes += [GraphNode(id=f"workflow:{earlier}", label="Workflow",
                        properties={"workflow_id": earlier}) for earlier in run.follows]
    for key in sorted({key for _, key in run.operates_on}):
        kind, _, name = key.partition(":")
        nodes.append(GraphNode(id=f"entity:{key}", label="Entity",
                               properties={"kind": kind, "name": name}))
    edges = [GraphEdge(source=workflow, type="CONTAINS", target=f"step:{s}") for s in run.steps]
    edges += [GraphEdge(source=workflow, type="FOLLOWS", target=f"workflow:{earlier}")
              for earlier in run.follows]
    for edge_type, pairs, prefix in (
        ("DEPENDS_ON", run.depends_on, "step"),
        ("COMPENSATED_BY", run.compensated_by, "step"),
        ("EXECUTED_BY", run.executed_by, "agent"),
        ("OPERATES_ON", run.operates_on, "entity"),
    ):
        edges += [GraphEdge(source=f"step:{a}", type=edge_type, target=f"{prefix}:{b}")
                  for a, b in pairs]
    return RunGraphView(workflow_id=run.workflow_id, status=run.status, error=run.error,
                        nodes=nodes, edges=edges)
