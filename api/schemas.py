"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from orchestrator.models import Plan, Preview, RunResult, RunStatus


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: StrictStr = Field(min_length=1, max_length=4000)
    wait: StrictBool = False
    # Plan, validate and predict only: nothing runs, nothing changes.
    dry_run: StrictBool = False
    # The whole plan waits for `POST /v1/workflows/{id}/approve` before it runs.
    require_approval: StrictBool = False
    tenant: StrictStr = Field(default="default", pattern=r"^[A-Za-z0-9_.-]{1,64}$")

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
