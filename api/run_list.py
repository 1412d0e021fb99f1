"""Runs as Temporal's visibility lists them: the query a filter makes, and what a
listed run says.

The list reads the search attributes each run keeps up to date (its status,
tenant and intent: workflows/search_attributes.py), so it costs Temporal one
visibility call per page and no run is queried. Visibility is eventually
consistent: a run started or changed a moment ago may show a moment later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from temporalio.client import WorkflowExecution, WorkflowExecutionStatus

from api.schemas import RunSummary
from orchestrator.models import RunStatus
from orchestrator.settings import Settings
from workflows import search_attributes as sa
from workflows.orchestration import OrchestrationWorkflow

# `@workflow.defn` without a name: the type is the class's name.
WORKFLOW_TYPE = OrchestrationWorkflow.__name__
DIGEST = 8  # bytes of a page token's digest


class BadListing(ValueError):
    """A filter or page token the list cannot take; the message says which."""


def visibility_query(status: RunStatus | None, tenant: str | None) -> str:
    """The list filter. `tenant` is checked by the route (letters, digits, `_.-`)."""
    terms = [f"WorkflowType = '{WORKFLOW_TYPE}'"]
    if status == RunStatus.STOPPING:
        raise BadListing("status 'stopping' is told by a run's own status only; a run "
                         "stopping is listed as running or awaiting_approval")
    if status is not None:
        terms.append(f"{sa.STATUS.name} = '{status.value}'")
        if not status.finished:
            # A run ended from outside (terminated, timed out) keeps the status it
            # had then: it is not running any more.
            terms.append("ExecutionStatus = 'Running'")
    if tenant is not None:
        terms.append(f"{sa.TENANT.name} = '{tenant}'")
    return " AND ".join(terms)


def page_token(text: str | None, query: str) -> bytes | None:
    """Temporal's token from the one this API handed out for `query`. The API's
    carries a digest of Temporal's and of the query: a token Temporal cannot read
    is not an error it names (the dev server answers "something went wrong, please
    retry", and the client retries it for seconds), so one not handed out here, or
    handed out for other filters, never reaches it."""
    if not text:
        return None
    try:
        sealed = base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError):
        sealed = b""
    digest, token = sealed[:DIGEST], sealed[DIGEST:]
    if not token or digest != _digest(token, query):
        raise BadListing("page_token is not one this API gave for these filters: send "
                         "next_page_token from the previous page as it is, with the same "
                         "status and tenant")
    return token


def token_text(token: bytes | None, query: str) -> str | None:
    if not token:
        return None
    return base64.urlsafe_b64encode(_digest(token, query) + token).decode("ascii")


def _digest(token: bytes, query: str) -> bytes:
    return hashlib.sha256(query.encode() + b"\0" + token).digest()[:DIGEST]


# The memo key the API starts dry runs with (a run's search attributes do not say).
DRY_RUN = "dry_run"


async def summary(run: WorkflowExecution, settings: Settings) -> RunSummary:
    attrs = run.typed_search_attributes
    told = attrs.get(sa.STATUS)
    status = RunStatus(told) if told is not None and told in set(RunStatus) else None
    ended = run.status not in (None, WorkflowExecutionStatus.RUNNING)
    if ended and status is not None and not status.finished:
        status = None  # ended from outside: `execution_status` says how
    return RunSummary(
        workflow_id=run.id, status=status,
        execution_status=run.status.name.lower() if run.status else "unknown",
        tenant=attrs.get(sa.TENANT), intent=attrs.get(sa.INTENT),
        started_at=run.start_time, closed_at=run.close_time,
        web_ui_url=settings.run_url(run.id, run.run_id),
        dry_run=await run.memo_value(DRY_RUN, False, type_hint=bool),
    )

