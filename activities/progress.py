"""Progress of a long MCP tool call, turned into heartbeats of the step's activity,
so a tool that reports progress keeps its step alive and cancellable."""

from __future__ import annotations

from temporalio import activity

from activities.heartbeat import beat
from orchestrator.mcp import ToolProgress


def heartbeat_progress(progress: ToolProgress) -> None:
    """The hub's `progress` callback; outside an activity (a test, the CLI) it does nothing."""
    if activity.in_activity():
        beat(**progress.model_dump(exclude_none=True))
