"""The orchestrator's types: what is planned, what runs, and what comes back.

Everything that crosses a Temporal boundary (workflow input, activity input and
output, query results) is one of these pydantic models, so fields can be added
without breaking old histories.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)

# Names of entities, steps and capabilities: lowercase words joined by '-', '_' or
# '.'. Quotes, spaces, braces and shell or Cypher metacharacters can never pass.
# The tenant of a request that names none.
DEFAULT_TENANT = "default"
NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
MAX_NAME = 63  # characters, as NAME_PATTERN allows
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
    # Told only by the status query: the run was asked to stop (cancelled, a step
    # failed for good, an approval rejected) and waits for the steps still
    # running before it rolls back.
    STOPPING = "stopping"
    COMPLETED = "completed"
    FAILED = "failed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    # Some undos failed for good: the run waits (`rollback_retry_timeout_s`) for a
    # person to have them tried again once the cause is fixed, or to give up.
    ROLLBACK_INCOMPLETE = "rollback_incomplete"
    ROLLBACK_FAILED = "rollback_failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """The run has ended: nothing about it changes any more."""
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.ROLLED_BACK,
                        RunStatus.ROLLBACK_FAILED, RunStatus.CANCELLED)


class StepStatus(StrEnum):
    PENDING = "pending"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    # Stopped before it finished: cancelled, rejected, or left when the run stopped.
    CANCELLED = "cancelled"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    COMPENSATION_FAILED = "compensation_failed"


class AgentKind(StrEnum):
    BUILTIN = "builtin"
    MCP = "mcp"
    FRAMEWORK = "framework"


class ToolSource(Model):
    """The MCP server tool behind a capability, under its own (unsanitised) names."""

    server: str
    tool: str


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
    # Best effort: a step that fails for good is skipped and the run goes on.
    optional: bool = False
    compensation: str | None = None
    # Changes nothing: may run alongside anything and needs no compensation.
    read_only: bool = False
    # Repeating a call with the same arguments has no further effect.
    idempotent: bool = False
    # Set when an MCP server's tool provides the capability.
    source: ToolSource | None = None
    # What the tool's structured result holds, when it says: later steps' inputs
    # may be taken from it.
    output_schema: dict[str, Any] | None = None
    # Values for parameters a request leaves unset (configured per MCP tool, e.g.
    # the channel notifications go to).
    defaults: dict[str, Any] = {}
    # How the agent names what it produces, from the step's parameters, when that
    # is not simply the name asked for: a policy is named after its deployment too
    # ("{policy}-{deployment}"), and a plan names what its steps touch the same way.
    names: str | None = None


# The longest wait or timeout a step may be given: Temporal takes far longer ones,
# but the SDK's conversion of them overflows (a timeout of 10**20 ms failed the
# workflow task that scheduled the step, and the run hung).
MAX_WAIT_MS = 7 * 24 * 3_600_000  # a week


def _whole_float_as_int(value: Any) -> Any:
    # 30000.0 is the number 30000, as some JSON writers put it; strict mode alone
    # would refuse it.
    return int(value) if type(value) is float and value.is_integer() else value


# Numbers people write in configuration: lax mode took `true` as 1 and "30000" as
# 30000, so a typo or a quoted value became another timeout or retry count than
# meant, without a word. Strict, they are refused, naming the field.
WholeNumber = Annotated[int, BeforeValidator(_whole_float_as_int), Strict()]
# Strict mode still takes an int for a float (`"backoff": 2`).
Number = Annotated[float, Strict()]
# Lax mode took "no", "off" and 0 as false: `"sensitive": "no"` quietly let a
# tool run without approval, where a person may have meant the opposite.
YesNo = Annotated[bool, Strict()]


class RetrySpec(Model):
    """Temporal's retry policy of a step. Checked here, where it is configured:
    one Temporal refuses fails the workflow task that schedules the step, and the
    run then hangs half done until terminated."""

    initial_interval_ms: WholeNumber = Field(default=200, ge=1, le=MAX_WAIT_MS)
    # Each wait is this many times the one before (1: always the same wait).
    backoff: Number = Field(default=2.0, ge=1.0, le=100.0, allow_inf_nan=False)
    max_interval_ms: WholeNumber = Field(default=5_000, ge=1, le=MAX_WAIT_MS)
    # Every try counts: 1 is no retry. (Temporal reads 0 as "for ever", which no
    # step here may do unasked.)
    max_attempts: WholeNumber = Field(default=3, ge=1, le=1_000)

    @model_validator(mode="after")
    def _intervals_in_order(self) -> RetrySpec:
        if self.max_interval_ms < self.initial_interval_ms:
            given = "" if "max_interval_ms" in self.model_fields_set else ", the default"
            raise ValueError(f"max_interval_ms ({self.max_interval_ms}{given}) is less than "
                             f"initial_interval_ms ({self.initial_interval_ms})")
        return self


class Agent(Model):
    id: str = Field(pattern=NAME_PATTERN)
    kind: AgentKind
    capabilities: list[str]
    retry: RetrySpec = RetrySpec()
    start_to_close_ms: int = Field(default=30_000, ge=1, le=MAX_WAIT_MS)
    heartbeat_ms: int | None = Field(default=None, ge=1, le=MAX_WAIT_MS)
    # Capabilities whose calls may take another time than `start_to_close_ms`.
    timeouts_ms: dict[str, Annotated[int, Field(ge=1, le=MAX_WAIT_MS)]] = {}

    def timeout_ms(self, capability: str) -> int:
        """How long one attempt at `capability` may take on this agent."""
        return self.timeouts_ms.get(capability, self.start_to_close_ms)


class EntityRef(Model):
    kind: str = Field(pattern=NAME_PATTERN)
    name: str = Field(pattern=NAME_PATTERN)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


class Compensation(Model):
    capability: str
    parameters: dict[str, Any] = {}


# `${steps.<id>.output.<path>}`: a parameter's value taken from an earlier step's output.
STEP_REFERENCE = re.compile(r"\$\{steps\.([a-z][a-z0-9_-]*)\.output((?:\.[A-Za-z0-9_-]+)*)\}")


class Step(Model):
    id: str = Field(pattern=NAME_PATTERN)
    capability: str
    agent: str
    # Other providers of the capability, best first: when the agent fails for
    # good, the step moves to the next before anything is rolled back.
    fallbacks: list[str] = []
    parameters: dict[str, Any] = {}
    depends_on: list[str] = []
    optional: bool = False
    requires_approval: bool = False
    compensation: Compensation | None = None
    operates_on: list[EntityRef] = []
    # Agents the graph saw run this read-only step quickly: on them it runs as a
    # local activity (orchestrator/planning/quick.py). Set by the plan activity
    # alone, whatever a planner wrote.
    quick_agents: list[str] = []


class Plan(Model):
    intent: str
    request: str
    steps: list[Step]
    predicted_duration_ms: int | None = None
    predicted_success: float | None = None
    # Who read the request: the rules, or a language model.
    planner: Literal["offline", "llm"] = "offline"
    # Why the language model's plan was not used, when the rules stood in for it.
    fallback_reason: str | None = None
    # The completed run whose plan this one renames, and how close its request was.
    reused_from: str | None = None
    reuse_similarity: float | None = None


class Limits(Model):
    """Budgets the workflow enforces; filled from settings by whoever starts it."""

    max_steps: int = 20
    max_parallel: int = 8


class OrchestrationRequest(Model):
    message: str
    tenant: str = DEFAULT_TENANT
    limits: Limits = Limits()
    # Plan, validate and predict; run nothing.
    dry_run: bool = False
    # The whole plan waits for an approval before any step runs.
    require_approval: bool = False
    # An approval not given within this time counts as a rejection.
    approval_timeout_s: int = Field(default=3600, ge=1)
    # How long a rollback left incomplete waits to be tried again before the run
    # ends `rollback_failed` (3 days: long enough for an outage over a weekend).
    rollback_retry_timeout_s: int = Field(default=3 * 24 * 3600, ge=1)
    # A follow-up in a conversation: the workflow id of the run it continues, and
    # the entities that conversation worked on (they fill what the message leaves out).
    follows: str | None = None
    context: list[EntityRef] = []
    # The request of the run it follows, refused as it could not be planned (which
    # of several was meant?): a message that cannot be planned alone may be the
    # answer ("the ecommerce one"), and is planned as that request again with what
    # it names.
    answering: str | None = None
    # A model plans the run (its starter has one configured): the plan is asked
    # for as an activity of its own, so that the run answers queries while the
    # model takes seconds (workflows/planning.py). The rules plan within the run's
    # first workflow task.
    plan_by_model: bool = False


class PlanInput(Model):
    workflow_id: str
    message: str
    dry_run: bool = False
    # Entities of the conversation, for qualifiers the message leaves out, and
    # those the run being extended is making (planned as if they existed).
    context: list[EntityRef] = []
    making: list[EntityRef] = []
    # See `OrchestrationRequest.answering`.
    answering: str | None = None
    # Steps to add to a running run: its final mirror records them, not the planner.
    extension: bool = False


class Followup(Model):
    """A follow-up message on a run that is still going: plan it and add its steps."""

    message: str = Field(max_length=4000)
    # The Idempotency-Key it was sent with: a repeat of it is answered from the
    # run's record of it, even once the run has ended.
    key: str | None = None


class Extension(Model):
    """The steps one follow-up added to a running run."""

    message: str
    steps: list[Step]
    added_at: datetime
    key: str | None = None


class Decision(Model):
    """An answer to a pending approval: of one step, or of the plan when `step_id`
    is omitted (or of the only step waiting)."""

    step_id: str | None = None
    reason: str = Field(default="", max_length=1000)
    by: str = Field(default="", max_length=200)


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    WITHDRAWN = "withdrawn"


class Approval(Model):
    # "plan", or the id of the step that waits.
    target: str
    status: ApprovalStatus = ApprovalStatus.PENDING
    requested_at: datetime
    answered_at: datetime | None = None
    by: str = ""
    reason: str = ""


class Preview(Model):
    """What a dry run tells: the order of the steps and what to expect."""

    stages: list[list[str]]
    predicted_duration_ms: int
    predicted_success: float
    # Where the predictions come from: observed history, or stated defaults.
    basis: str
    mermaid: str


# Each run moves an agent's recent figures a fifth of the way: they stand for about
# the last five runs.
RECENT_RUNS = 5


class AgentStats(Model):
    """Observed outcomes of one agent on one capability."""

    runs: int = 0
    successes: int = 0
    total_ms: int = 0
    # Recent runs' duration, weighted towards the latest (each run moves it a fifth
    # of the way): what one slow spell long ago no longer drags up.
    recent_ms: float = 0.0
    # Recent runs' success, weighted the same way: an agent that worked for years
    # and broke today is told by this within a few runs (its lifetime rate would
    # take as many failures as it had successes), and one that failed for long and
    # works again, as soon. None: not counted yet (statistics from before it was).
    recent_ok: float | None = None

    @property
    def recent_runs(self) -> int:
        """How many runs the recent figures stand for."""
        return min(self.runs, RECENT_RUNS)

    def count(self, runs: int, successes: int, ms: int) -> None:
        """Add outcomes counted together as the graph adds them (ADD_FRESH_OUTCOMES):
        the recent figures move once, a fifth of the way to the outcomes' means."""
        mean_ms, mean_ok = ms / runs, successes / runs
        fresh = self.runs == 0
        self.recent_ms = mean_ms if fresh else 0.8 * self.recent_ms + 0.2 * mean_ms
        self.recent_ok = mean_ok if fresh or self.recent_ok is None else (
            0.8 * self.recent_ok + 0.2 * mean_ok)
        self.runs += runs
        self.successes += successes
        self.total_ms += ms


class PlanOutput(Model):
    """A plan with the definitions the workflow needs to validate and run it."""

    plan: Plan
    capabilities: dict[str, Capability]
    agents: dict[str, Agent]
    # What history says of the plan's agents, by "<agent>/<capability>".
    stats: dict[str, AgentStats] = {}
    # What recent runs took a stage beyond their agents' time (dry runs only).
    stage_overhead_ms: float | None = None


class StepInput(Model):
    workflow_id: str
    step: Step
    # This runs the compensation of the step (same id) instead of the step.
    undo: bool = False


class StepOutput(Model):
    output: dict[str, Any]
    started_at: datetime
    finished_at: datetime
    attempt: int = 1
    operates_on: list[EntityRef] = []


class AgentTry(Model):
    """One agent's go at a step: its outcome after its retries."""

    agent: str
    ok: bool
    attempts: int
    duration_ms: int
    error: str | None = None


class StepResult(Model):
    step_id: str
    status: StepStatus = StepStatus.PENDING
    # Which agent ran the step (it differs from the plan's after a fallback).
    agent: str | None = None
    tries: list[AgentTry] = []
    parameters: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    operates_on: list[EntityRef] = []
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    # While it runs: the progress its tool last reported ("2/6: message"), as the API
    # reads it from Temporal (the workflow's own state never holds it).
    progress: str | None = None


class ProblemKind(StrEnum):
    CANNOT_PLAN = "cannot_plan"
    # A question sent as a request: nothing to do; the refusal says where in the
    # graph the answer is. Unlike `cannot_plan`, saying more does not help.
    QUESTION = "question"
    # Planning needed a service that did not answer (the graph): worth sending again.
    UNAVAILABLE = "unavailable"
    INVALID_PLAN = "invalid_plan"
    STEP_FAILED = "step_failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    COMPENSATION_FAILED = "compensation_failed"
    # Ended from outside (terminated in the Web UI or the CLI, timed out): the
    # workflow's own code never ran to its end, so nothing was rolled back.
    TERMINATED = "terminated"


class Problem(Model):
    """Why a run did not complete, in words a caller can act on."""

    kind: ProblemKind
    message: str
    understood: list[str] = []
    not_understood: list[str] = []
    details: list[str] = []


class PlanningTry(Model):
    """A model's planning of a run as Temporal sees it while it goes on (planned as
    an activity of its own): which try this is, and why the one before failed."""

    attempt: int
    # 0: tried until the plan's timeout.
    max_attempts: int = 0
    last_failure: str | None = None


class RunResult(Model):
    workflow_id: str
    status: RunStatus
    request: str
    tenant: str = DEFAULT_TENANT
    plan: Plan | None = None
    steps: dict[str, StepResult] = {}
    # The undo of each step that was rolled back, by the id of the step undone.
    compensations: dict[str, StepResult] = {}
    approvals: dict[str, Approval] = {}
    dry_run: bool = False
    preview: Preview | None = None
    problem: Problem | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # The run this one follows up on, and the conversation's entities it was given.
    follows: str | None = None
    context: list[EntityRef] = []
    # The refused request this run's message may answer (`OrchestrationRequest`).
    answering: str | None = None
    # Follow-ups that added steps to this run while it ran.
    extensions: list[Extension] = []
    # The plan refused as not valid (over the budget, say): shown so that the request
    # can be cut to fit; it never ran, so it is not `plan`.
    refused_plan: Plan | None = None
    # Told by the API while a model plans the run.
    planning: PlanningTry | None = None

    @field_validator("steps", "compensations")
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
    # The record of the step's compensation, not of the step.
    undo: bool = False


class Outcome(Model):
    step_id: str
    agent: str
    capability: str
    ok: bool
    duration_ms: int
    # An undo's outcome: the undo keeps its step's id.
    undo: bool = False
    # Which try of the undo, when a rollback left incomplete tried it again: 0 for
    # the rollback's, n for the nth after. Each is an observation of its agent.
    retry: int = 0


class RunRecord(Model):
    """What the graph keeps of a run at the workflow level; at the end of a run
    it carries every step's final state, so the graph converges whatever the
    steps' own mirroring lost."""

    workflow_id: str
    request: str
    status: RunStatus
    plan: Plan | None = None
    error: str | None = None
    # The earlier run of the same conversation this one follows up on.
    follows: str | None = None
    steps: list[StepRecord] = []
    # Every agent's go at a step of the run, for the agents' statistics.
    outcomes: list[Outcome] = []
    # When the run finished (its final mirror): the plan memory takes the newest first.
    finished_at: datetime | None = None
    # A completed run's time beyond its agents' (planning, Temporal's dispatch, the
    # graph), per stage of its plan: dry runs add it to their predictions.
    stage_overhead_ms: float | None = None
