"""Graph stores: one protocol, an embedded adapter by default."""

from orchestrator.graph.store import EntityRecord, GraphStore, Relation, RunGraph

__all__ = ["EntityRecord", "GraphStore", "Relation", "RunGraph"]
