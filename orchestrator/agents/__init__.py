"""Agents: who can do what, and the built-in platform agent pack."""
