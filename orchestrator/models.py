"""The orchestrator's types: what is planned, what runs, and what comes back.

Everything that crosses a Temporal boundary (workflow input, activity input and
output, query results) is one of these pydantic models, so fields can be added
without breaking old histories.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Names of entities, steps and capabilities: lowercase words joined by '-', '_' or
# '.'. Quotes, spaces, braces and shell or Cypher metacharacters can never pass.
NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
CAPABILITY_PATTERN = r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$"
_NAME_RE = re.compile(NAME_PATTERN)


def is_valid_name(value: str) -> bool:
    return bool(_NAME_RE.match(value))


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class RunStatus(StrEnum):
    PLANNING = "planning"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    COMPENSATED = "compensated"


class AgentKind(StrEnum):
    BUILTIN = "builtin"
    MCP = "mcp"
    FRAMEWORK = "framework"


class Capability(Model):
    """Something an agent can do, and which kinds of entity it needs and makes."""

    name: str = Field(pattern=CAPABILITY_PATTERN)
    description: str
    input_schema: dict[str, Any]
    consumes: list[str] = []
    produces: list[str] = []
    # Validate-or-create: an existing entity is checked rather than made again.
    ensures: bool = False
    sensitive: bool = False
    compensation: str | None = None


class RetrySpec(Model):
    initial_interval_ms: int = 200
    backoff: float = 2.0
    max_interval_ms: int = 5_000
    max_attempts: int = 3


class Agent(Model):
    id: str = Field(pattern=NAME_PATTERN)
    kind: AgentKind
    capabilities: list[str]
    retry: RetrySpec = RetrySpec()
    start_to_close_ms: int = 30_000
    heartbeat_ms: int | None = None


class EntityRef(Model):
    kind: str = Field(pattern=NAME_PATTERN)
    name: str = Field(pattern=NAME_PATTERN)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


class Compensation(Model):
    capability: str
    parameters: dict[str, Any] = {}


class Step(Model):
    id: str = Field(pattern=NAME_PATTERN)
    capability: str
    agent: str
    parameters: dict[str, Any] = {}
    depends_on: list[str] = []
    optional: bool = False
    requires_approval: bool = False
    compensation: Compensation | None = None
    operates_on: list[EntityRef] = []


class Plan(Model):
    intent: str
    request: str
    steps: list[Step]
    predicted_duration_ms: int | None = None
    predicted_success: float | None = None


class Limits(Model):
    """Budgets the workflow enforces; filled from settings by whoever starts it."""

    max_steps: int = 20
    max_parallel: int = 8


class OrchestrationRequest(Model):
    message: str
    tenant: str = "default"
    limits: Limits = Limits()


class PlanInput(Model):
    workflow_id: str
    message: str


class PlanOutput(Model):
    """A plan with the definitions the workflow needs to validate and run it."""

    plan: Plan
    capabilities: dict[str, Capability]
    agents: dict[str, Agent]


class StepInput(Model):
    workflow_id: str
    step: Step


class StepOutput(Model):
    output: dict[str, Any]
    started_at: datetime
    finished_at: datetime
    attempt: int = 1
    operates_on: list[EntityRef] = []


class StepResult(Model):
    step_id: str
    status: StepStatus = StepStatus.PENDING
    parameters: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    operates_on: list[EntityRef] = []
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


class ProblemKind(StrEnum):
    CANNOT_PLAN = "cannot_plan"
    INVALID_PLAN = "invalid_plan"
    STEP_FAILED = "step_failed"


class Problem(Model):
    """Why a run did not complete, in words a caller can act on."""

    kind: ProblemKind
    message: str
    understood: list[str] = []
    not_understood: list[str] = []
    details: list[str] = []


class RunResult(Model):
    workflow_id: str
    status: RunStatus
    request: str
    plan: Plan | None = None
    steps: dict[str, StepResult] = {}
    problem: Problem | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @field_validator("steps")
    @classmethod
    def _sorted(cls, steps: dict[str, StepResult]) -> dict[str, StepResult]:
        return dict(sorted(steps.items()))


class StepRecord(Model):
    """What a step activity writes to the graph about itself."""

    workflow_id: str
    step_id: str
    capability: str
    agent: str
    status: StepStatus
    attempt: int
    output: dict[str, Any] | None = None
    operates_on: list[EntityRef] = []
    error: str | None = None


class RunRecord(Model):
    """What the graph keeps of a run at the workflow level; at the end of a run
    it carries every step's final state, so the graph converges whatever the
    steps' own mirroring lost."""

    workflow_id: str
    request: str
    status: RunStatus
    plan: Plan | None = None
    error: str | None = None
    steps: list[StepRecord] = []
