"""Durable, graph-aware orchestration of AI agents and MCP tools."""
