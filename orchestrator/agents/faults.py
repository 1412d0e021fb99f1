"""Failures and delays injected into built-in agents by configuration.

Tests and demos use these to show retries, rollback and crash recovery without
editing code: a fault is set per capability in settings (`agent_faults`).
"""

from __future__ import annotations

from typing import Any

from orchestrator.models import Model


class Fault(Model):
    # Fail the first N attempts of every step with this capability (0: never).
    fail_attempts: int = 0
    # Fail after the agent's write, as a worker crash after a side effect would.
    after_write: bool = False
    # Failures that no retry can fix.
    non_retryable: bool = False
    # Sleep this long before acting: a slow step, on purpose.
    delay_ms: int = 0
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
