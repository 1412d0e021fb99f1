"""Where the tests' Neo4j is and how to log in to it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Neo4jAccess:
    uri: str
    user: str
    password: str
    database: str = "neo4j"
