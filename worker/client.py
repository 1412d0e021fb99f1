"""The Temporal client, with the pydantic data converter every part must share."""

from __future__ import annotations

import asyncio

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from orchestrator.settings import Settings


async def connect(settings: Settings, wait_s: float = 30.0) -> Client:
    """Connect to Temporal, waiting for a server that is still starting."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        try:
            return await Client.connect(
                settings.address, namespace=settings.temporal_namespace,
                data_converter=pydantic_data_converter,
            )
        except (RuntimeError, RPCError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
