"""Deterministic orchestration: the workflow and the pure helpers it uses."""
