"""The API's error bodies, one shape each, and declared in its OpenAPI description.

Every error names what is wrong in `detail`, a string, except FastAPI's own
validation errors (a malformed body or parameter: `detail` lists each, with where).
A request the orchestrator refused to run (it cannot be planned, its plan is not
valid, the graph did not answer) says so at the top level too, with the run it
started and why: `problem`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from orchestrator.models import Plan, Problem


class ErrorBody(BaseModel):
    detail: str


class Refusal(BaseModel):
    """A request the orchestrator would not run, and why."""

    detail: str
    workflow_id: str
    # Send it back as `conversation_id` to go on: to answer what the refusal asks
    # ("name the one to fix": "the ecommerce one"), or, for a follow-up refused by
    # the run it was sent to, to that run's conversation.
    conversation_id: str | None = None
    problem: Problem
    # A plan refused as not valid (over the budget): what to cut.
    plan: Plan | None = None


class RunRefused(Exception):
    def __init__(self, status_code: int, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.status_code = status_code
        self.refusal = refusal


async def run_refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RunRefused)
    body = exc.refusal.model_dump(mode="json", exclude_none=True)
    return JSONResponse(status_code=exc.status_code, content=body)


def described(*codes: int, refusals: tuple[int, ...] = ()) -> dict[int | str, dict[str, Any]]:
    """A route's `responses`: its error answers with their bodies."""
    answers: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in codes}
    answers.update({code: {"model": Refusal} for code in refusals})
    return answers
