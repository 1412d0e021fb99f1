"""Failures and delays injected into built-in agents by configuration.

Tests and demos use these to show retries, rollback and crash recovery without
editing code: a fault is set per capability in settings (`agent_faults`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from pydantic import Field

from orchestrator.agents.base import StepContext
from orchestrator.errors import InvalidInput, TransientFailure
from orchestrator.models import Model

T = TypeVar("T")


class Fault(Model):
    # Fail the first N attempts of every step with this capability (0: never).
    fail_attempts: int = Field(default=0, ge=0)
    # Fail after the agent's write, as a worker crash after a side effect would.
    after_write: bool = False
    # Failures that no retry can fix.
    non_retryable: bool = False
    # Sleep this long before acting: a slow step, on purpose.
    delay_ms: int = Field(default=0, ge=0)
    # Only steps whose parameters have these values (e.g. {"policy": "security"}).
    when: dict[str, Any] = {}
    # Only steps run by this agent (when several provide the capability).
    agent: str | None = None

    def applies(self, params: dict[str, Any], agent: str = "") -> bool:
        if self.agent is not None and self.agent != agent:
            return False
        return all(params.get(k) == v for k, v in self.when.items())

    def fails(self, attempt: int) -> bool:
        return attempt <= self.fail_attempts


async def with_fault(
    faults: Mapping[str, Fault], capability: str, params: dict[str, Any], ctx: StepContext,
    act: Callable[[], Awaitable[T]],
) -> T:
    """Perform `act` with the fault configured for the capability, if it applies."""
    fault = faults.get(capability, Fault())
    if not fault.applies(params, ctx.agent):
        fault = Fault()
    if fault.delay_ms:
        await asyncio.sleep(fault.delay_ms / 1000)
    if fault.fails(ctx.attempt) and not fault.after_write:
        _raise_injected(capability, ctx, fault)
    result = await act()
    if fault.fails(ctx.attempt):
        _raise_injected(capability, ctx, fault)
    return result


def _raise_injected(capability: str, ctx: StepContext, fault: Fault) -> None:
    message = f"injected failure in {capability} (attempt {ctx.attempt})"
    if fault.non_retryable:
        raise InvalidInput(message)
    raise TransientFailure(message)
