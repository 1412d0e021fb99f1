"""Calling a tool: check the arguments, send the call, and turn the answer into
an output or into the error that tells Temporal whether to try again."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import mcp.types as types
from jsonschema import SchemaError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, REQUEST_TIMEOUT
from pydantic import ValidationError

from orchestrator.mcp.blobs import BlobStore
from orchestrator.mcp.catalogue import ListedTool, ToolCatalogue
from orchestrator.mcp.errors import (
    McpInvalidArguments,
    McpProtocolError,
    McpTimeout,
    McpToolFailed,
)
from orchestrator.mcp.sessions import SessionPool
from orchestrator.models import Model

log = logging.getLogger(__name__)

# Error responses that say the request itself is wrong: sending it again cannot help.
_REJECTED = (INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND)
# What the Python SDK's servers say of an exception a tool raised unexpectedly.
_MASKED = re.compile(r"Error executing tool \S+")
_PREVIEW_CHARS = 1_000


class ToolProgress(Model):
    progress: float
    total: float | None = None
    message: str | None = None


ProgressFn = Callable[[ToolProgress], None]


class ToolCaller:
    def __init__(
        self, pool: SessionPool, catalogue: ToolCatalogue, blobs: BlobStore, inline_max_bytes: int
    ) -> None:
        self._pool = pool
        self._catalogue = catalogue
        self._blobs = blobs
        self._inline_max_bytes = inline_max_bytes
        self._validators: dict[str, Any] = {}

    async def call_tool(
        self, server: str, tool: str, arguments: dict[str, Any],
        *, progress: ProgressFn | None = None,
    ) -> dict[str, Any]:
        """Call one tool and return `{"text": ..., "structured_content": ...}` (plus
        `"content"` for blocks that are not text), or, when that is larger than the
        inline limit, `{"blob": BlobRef, "preview": ...}`.

        `progress` runs in the caller's context (so it may call
        `temporalio.activity.heartbeat`) for each progress notification.
        """
        listed = await self._catalogue.tool(server, tool)
        self._validate(listed, arguments)
        options = self._pool.servers[server].orchestrator
        extra = options.tools.get(tool)
        timeout_ms = extra.timeout_ms if extra and extra.timeout_ms else options.timeout_ms
        try:
            async with self._pool.session(server) as client:
                # The session may have been opened just now, to a restarted server
                # offering another definition than the one checked above.
                checked = await self._catalogue.checked_on(listed, client)
                if checked is not listed:
                    listed = checked
                    self._validate(listed, arguments)
                result = await client.call_tool(
                    tool, arguments, read_timeout_seconds=timeout_ms / 1000,
                    progress_callback=_in_caller_context(progress) if progress else None,
                )
        except MCPError as error:
            raise _from_error_response(listed, error) from error
        except (ValidationError, RuntimeError) as error:
            # A malformed result, or structured content that breaks the tool's own
            # output schema: the server is at fault, and would be again.
            raise McpProtocolError(
                f"{listed.capability.name}: the server's answer is invalid: {error}",
                retryable=False,
            ) from error
        text = "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))
        if result.is_error:
            log_path = self._pool.log_of(server)
            if log_path is not None and _MASKED.fullmatch(text.strip()):
                # The SDK's servers answer an unexpected exception with this alone;
                # the traceback went to the server's stderr.
                text = f"{text.strip()} (the server's log may say why: {log_path})"
            raise McpToolFailed(server, tool, text, retryable=options.retry_tool_errors)
        return await self._output(result, text)

    def _validate(self, listed: ListedTool, arguments: dict[str, Any]) -> None:
        validator = self._validator(listed)
        if validator is None:
            return
        error = best_match(validator.iter_errors(arguments))
        if error is not None:
            raise McpInvalidArguments(listed.capability.name, _field(error), error.message)

    def _validator(self, listed: ListedTool) -> Any:
        if listed.fingerprint not in self._validators:
            schema = listed.definition.input_schema
            cls = validator_for(schema)
            try:
                cls.check_schema(schema)
                self._validators[listed.fingerprint] = cls(schema)
            except SchemaError as error:
                # The server will check its own arguments; ours would reject everything.
                log.warning("MCP tool %s has an invalid input schema: %s",
                            listed.capability.name, error.message)
                self._validators[listed.fingerprint] = None
        return self._validators[listed.fingerprint]

    async def _output(self, result: types.CallToolResult, text: str) -> dict[str, Any]:
        output: dict[str, Any] = {"text": text, "structured_content": result.structured_content}
        others = [b for b in result.content if not isinstance(b, types.TextContent)]
        if others:
            output["content"] = [
                b.model_dump(mode="json", by_alias=True, exclude_none=True) for b in others
            ]
        data = json.dumps(output, ensure_ascii=False, separators=(",", ":")).encode()
        if len(data) <= self._inline_max_bytes:
            return output
        ref = await self._blobs.put(data)
        return {"blob": ref.model_dump(mode="json"), "preview": text[:_PREVIEW_CHARS]}


def _from_error_response(listed: ListedTool, error: MCPError) -> Exception:
    name = listed.capability.name
    if error.code == REQUEST_TIMEOUT:
        return McpTimeout(f"{name}: {error.message}")
    return McpProtocolError(
        f"{name}: the server answered with error {error.code}: {error.message}",
        retryable=error.code not in _REJECTED,
    )


def _field(error: Any) -> str:
    """The argument a schema violation is about, as a dotted path."""
    path = [str(part) for part in error.absolute_path]
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        missing = [name for name in error.validator_value if name not in instance]
        path.extend(missing[:1])
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = sorted(name for name in instance if name not in known)
        path.extend(extra[:1])
    return ".".join(path) or "(arguments)"


def _in_caller_context(progress: ProgressFn) -> Any:
    """The SDK runs progress callbacks in the session's own task; run ours in the
    caller's context instead, where an activity's heartbeat can find its activity."""
    context = contextvars.copy_context()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        try:
            context.run(progress, ToolProgress(progress=value, total=total, message=message))
        except Exception:
            log.exception("progress callback failed")

    return on_progress
