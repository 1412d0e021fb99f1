"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from orchestrator.models import Plan, RunResult, RunStatus


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: StrictStr = Field(min_length=1, max_length=4000)
    wait: StrictBool = False

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
    result: RunResult | None = None
