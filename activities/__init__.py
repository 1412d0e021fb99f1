"""Thin side-effect adapters between the workflow and the core."""
