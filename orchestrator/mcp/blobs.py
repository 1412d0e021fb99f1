"""Large outputs, kept out of workflow histories.

A tool result above the size threshold is written once under its sha256 (the
same content is stored once however often it is produced) and the step's
output carries a `BlobRef` instead.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from orchestrator.mcp.files import write_atomic
from orchestrator.models import Model


class BlobRef(Model):
    """Where a stored output is: its sha256 names the file under the blob directory."""

    sha256: str
    size: int
    media_type: str = "application/json"


class BlobStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def path(self, sha256: str) -> Path:
        return self._root / sha256[:2] / sha256

    async def put(self, data: bytes, media_type: str = "application/json") -> BlobRef:
        digest = hashlib.sha256(data).hexdigest()
        path = self.path(digest)
        if not path.exists():
            # Off the event loop: a result may be megabytes.
            await asyncio.to_thread(write_atomic, path, data)
        return BlobRef(sha256=digest, size=len(data), media_type=media_type)

    async def get(self, ref: BlobRef) -> bytes:
        return await asyncio.to_thread(self.path(ref.sha256).read_bytes)
