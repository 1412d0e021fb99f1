"""Tool pinning: a server may not change a tool under an approved plan.

The first time a tool is seen, a fingerprint of what a planner or an approver
relies on (name, description, input schema, annotations) is pinned in a JSON
file. If the server later offers something else under that name, calls to it
are refused until someone approves the new definition. Annotations are part of
the fingerprint because a tool that stops saying it is destructive would
otherwise slip past approval.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mcp.types as types
from pydantic import ValidationError

from orchestrator.mcp.errors import McpConfigError
from orchestrator.mcp.files import write_atomic
from orchestrator.models import Model


def fingerprint(tool: types.Tool) -> str:
    """sha256 of the tool's name, description, input schema and annotations, as canonical JSON."""
    notes = tool.annotations.model_dump(mode="json", exclude_none=True) if tool.annotations else {}
    document = {
        "name": tool.name,
        "description": tool.description or "",
        "inputSchema": tool.input_schema,
        "annotations": notes,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Pin(Model):
    sha256: str
    pinned_at: datetime


class ToolChange(Model):
    """A tool whose definition no longer matches its pin."""

    server: str
    tool: str
    pinned: str
    current: str


class _PinFile(Model):
    version: int = 1
    servers: dict[str, dict[str, Pin]] = {}


class PinStore:
    """Pins by server and tool, kept in one JSON file."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @property
    def path(self) -> Path:
        return self._path

    def pinned(self, server: str, tool: str) -> str | None:
        pin = self._read().servers.get(server, {}).get(tool)
        return pin.sha256 if pin else None

    def has(self, server: str) -> bool:
        return bool(self._read().servers.get(server))

    def check(self, server: str, tools: dict[str, str]) -> list[ToolChange]:
        """Compare fingerprints (by tool name) with the pins: pin the tools seen for
        the first time, and return those that differ from their pin."""
        data = self._read()
        pins = data.servers.setdefault(server, {})
        changes: list[ToolChange] = []
        new = False
        for tool, current in sorted(tools.items()):
            pin = pins.get(tool)
            if pin is None:
                pins[tool] = Pin(sha256=current, pinned_at=datetime.now(UTC))
                new = True
            elif pin.sha256 != current:
                changes.append(
                    ToolChange(server=server, tool=tool, pinned=pin.sha256, current=current)
                )
        if new:
            self._write(data)
        return changes

    def approve(self, server: str, tool: str, current: str) -> None:
        """Pin `current` as the approved definition of the tool."""
        data = self._read()
        data.servers.setdefault(server, {})[tool] = Pin(sha256=current, pinned_at=datetime.now(UTC))
        self._write(data)

    def forget(self, server: str) -> None:
        """Drop the server's pins: a server added again later is trusted afresh."""
        data = self._read()
        if data.servers.pop(server, None) is not None:
            self._write(data)

    def _read(self) -> _PinFile:
        # Read each time: other worker processes may share the file.
        try:
            raw: Any = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return _PinFile()
        except (OSError, json.JSONDecodeError) as error:
            raise McpConfigError(f"cannot read MCP tool pins {self._path}: {error}") from None
        try:
            return _PinFile.model_validate(raw)
        except ValidationError as error:
            raise McpConfigError(f"MCP tool pins {self._path} are malformed: {error}") from None

    def _write(self, data: _PinFile) -> None:
        write_atomic(self._path, (data.model_dump_json(indent=2) + "\n").encode())
