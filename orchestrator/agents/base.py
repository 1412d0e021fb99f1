"""What every agent runner takes and gives back."""

from __future__ import annotations

from typing import Any, Protocol

from orchestrator.models import EntityRef, Model


class StepContext(Model):
    workflow_id: str
    step_id: str
    attempt: int
    # The agent the step runs on (several may provide one capability).
    agent: str = ""
    # The step's compensation runs, under the step's own key.
    undo: bool = False

    @property
    def owner(self) -> str:
        """The idempotency key of the step's side effects."""
        return f"{self.workflow_id}/{self.step_id}"


class AgentResult(Model):
    output: dict[str, Any]
    operates_on: list[EntityRef] = []


class AgentRunner(Protocol):
    async def run(
        self, capability: str, params: dict[str, Any], ctx: StepContext
    ) -> AgentResult:
        """Perform one capability; raise `OrchestratorError` subclasses on failure."""
