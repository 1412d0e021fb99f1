"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from orchestrator.graph.store import EntityRecord, Relation
from orchestrator.models import DEFAULT_TENANT, Plan, Preview, RunResult, RunStatus, Step


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: StrictStr = Field(min_length=1, max_length=4000)
    wait: StrictBool = False
    # Plan, validate and predict only: nothing runs, nothing changes.
    dry_run: StrictBool = False
    # The whole plan waits for `POST /v1/workflows/{id}/approve` before it runs.
    require_approval: StrictBool = False
    tenant: StrictStr = Field(default=DEFAULT_TENANT, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # Continue a conversation: the `conversation_id` of an earlier answer (a run's
    # workflow id). A run still going takes the message's steps; a finished one is
    # followed by a new run that refers to it. ('~' joins a tenant and its key.)
    conversation_id: StrictStr | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.:~-]{1,200}$"
    )

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message is empty")
        return value.strip()


class ChatResponse(BaseModel):
    workflow_id: str
    run_id: str | None
    status: RunStatus
    plan: Plan | None
    web_ui_url: str
    # A dry run's stages, predictions and drawing of the plan.
    preview: Preview | None = None
    result: RunResult | None = None
    # Send it back as `conversation_id` to follow up on this answer.
    conversation_id: str
    # The earlier run a new run follows up on.
    follows: str | None = None
    # The steps a follow-up added to a run that was still going.
    added_steps: list[Step] = []
    # What the request should know of how it was read ("'Shop' is named 'shop'").
    notes: list[str] = []


class RunSummary(BaseModel):
    """A run as the list of runs shows it."""

    workflow_id: str
    # The run's own word; None for a run that has not said yet, or that was ended
    # from outside (terminated, timed out: `execution_status` says which).
    status: RunStatus | None
    # Temporal's: running, completed, failed, canceled, terminated, timed_out, ...
    execution_status: str
    tenant: str | None
    intent: str | None
    started_at: datetime
    closed_at: datetime | None
    web_ui_url: str
    # Planned and predicted only: nothing ran (runs started before this was kept: false).
    dry_run: bool = False


class RunPage(BaseModel):
    """Runs still going first, then the others, the last to end first."""

    runs: list[RunSummary]
    # Send it back as `page_token` for the next page; None on the last page.
    next_page_token: str | None = None


class EntityPage(BaseModel):
    """Entities in kind and name order, from `offset`."""

    entities: list[EntityRecord]
    limit: int
    offset: int
    # Where the next page starts; None on the last page.
    next_offset: int | None = None


class EntityDetail(BaseModel):
    entity: EntityRecord
    # Relationships leaving or entering the entity.
    relations: list[Relation]


class Resolution(BaseModel):
    """The entities a phrase refers to, sorted by name: none, one, or several to choose from."""

    query: str
    kind: str | None
    candidates: list[EntityRecord]


class GraphNode(BaseModel):
    # "<label>:<id in the graph>", unique across labels.
    id: str
    label: str
    properties: dict[str, Any] = {}


class GraphEdge(BaseModel):
    source: str
    type: str
    target: str


class RunGraphView(BaseModel):
    """A run as the graph holds it, for drawing: its workflow, steps, agents and the
    entities its steps operated on, and the edges between them."""

    workflow_id: str
    status: str | None
    # Why the run did not complete, when it did not.
    error: str | None = None
    nodes: list[GraphNode]
    edges: list[GraphEdge]
