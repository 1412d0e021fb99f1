"""`POST /v3/ai/chat`: one request in plain language starts one run; a follow-up
on a conversation extends its run while it goes, or starts a run that follows it."""

from __future__ import annotations

import contextlib
import re
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.deps import SettingsDep, StoreDep, TemporalClientDep
from api.errors import Refusal, RunRefused, described
from api.followup import earlier_run, extend_run, keyed_extension, started_with_key
from api.keys import with_keys_as_sent
from api.run_list import DRY_RUN
from api.run_state import query_state, run_result, with_predictions
from api.schemas import ChatRequest, ChatResponse
from orchestrator.errors import GraphStoreUnavailable
from orchestrator.models import (
    DEFAULT_TENANT,
    EntityRef,
    Extension,
    OrchestrationRequest,
    ProblemKind,
    RunResult,
    RunStatus,
)
from orchestrator.planning.conversation import context_of
from orchestrator.planning.lowercased import lowercased_names
from orchestrator.run_ids import run_id_for, scoped_key
from orchestrator.settings import Settings
from worker.client import run_handle
from workflows import search_attributes as sa
from workflows.approvals import PLAN
from workflows.orchestration import OrchestrationWorkflow

router = APIRouter(prefix="/v3/ai", tags=["chat"])

_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
# Runs that ended before any step, answered as errors: the request's (422), or
# the graph's, not there to plan with (503: send it again).
_REFUSED = {ProblemKind.CANNOT_PLAN: 422, ProblemKind.QUESTION: 422,
            ProblemKind.INVALID_PLAN: 422, ProblemKind.UNAVAILABLE: 503}


@router.post("/chat", response_model=ChatResponse,
             responses=described(404, 409, refusals=(422, 503)))
async def chat(
    body: ChatRequest,
    client: TemporalClientDep,
    settings: SettingsDep,
    store: StoreDep,
    request: Request,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> ChatResponse:
    """Plan the request and start running it; with `wait`, return the final result."""
    # Only the first would count, and the request be keyed by one the sender did not
    # mean alone.
    if len(request.headers.getlist("idempotency-key")) > 1:
        raise HTTPException(422, "Idempotency-Key: send one key, not several")
    if idempotency_key is not None and not _KEY.match(idempotency_key):
        raise HTTPException(422, "Idempotency-Key: use 1-100 letters, digits or . _ : -")
    # Planning reads the graph: one that is down is told now (503, nothing started,
    # the key free to send again), not by a run that fails after its planning's
    # retries (~16 s on Neo4j).
    try:
        await store.reachable()
    except GraphStoreUnavailable as err:
        raise HTTPException(503, f"{err}; send the request again once it answers") from err
    context: list[EntityRef] = []
    answering: str | None = None
    earlier = None
    conversation = body.conversation_id
    if conversation is not None:
        earlier = await earlier_run(client, conversation)
        body = _in_tenant_of(earlier, body)
    workflow_id = run_id_for(idempotency_key, body.tenant)
    if earlier is not None and conversation is not None:
        # A key names one request: a follow-up it was sent with already went into
        # this run (answered from the run's record, even once it has ended), or into
        # a new run of the key's name (the start below finds it).
        taken = keyed_extension(earlier, scoped_key(idempotency_key, body.tenant))
        if taken is not None:
            return await _extended(body, client, settings, taken, idempotency_key)
        started = idempotency_key is not None and await started_with_key(client, workflow_id)
        if earlier.finished_at is None and not body.dry_run and not started:
            extended = await _extend(body, client, settings, idempotency_key)
            if extended is not None:
                return extended
            earlier = await earlier_run(client, conversation)
            if earlier.finished_at is None:  # refused while it stops: not yet followable
                why = earlier.problem.message if earlier.problem else earlier.status.value
                raise HTTPException(409, f"run {body.conversation_id} is stopping ({why}); "
                                         "follow up once it has ended")
        context = context_of(earlier)
        answering = refused_request(earlier)
    start = WithStartWorkflowOperation(
        OrchestrationWorkflow.run,
        OrchestrationRequest(
            message=body.message, tenant=body.tenant, limits=settings.limits,
            dry_run=body.dry_run, require_approval=body.require_approval,
            approval_timeout_s=settings.approval_timeout_s,
            rollback_retry_timeout_s=settings.rollback_retry_timeout_s,
            follows=body.conversation_id, context=context, answering=answering,
            plan_by_model=settings.llm_configured,
        ),
        id=workflow_id,
        task_queue=settings.task_queue,
        # Told in the list of runs, which reads visibility only.
        memo={DRY_RUN: True} if body.dry_run else None,
        # Listed (and found by tenant) from the start: the run sets them again itself
        # once planned, which may take a slow model minutes.
        search_attributes=TypedSearchAttributes([
            SearchAttributePair(sa.STATUS, RunStatus.PLANNING.value),
            SearchAttributePair(sa.TENANT, body.tenant)]),
        # A repeated key joins the run it started; it never starts a second one.
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    handle = run_handle(client, workflow_id)
    try:
        state: RunResult = await client.execute_update_with_start_workflow(
            OrchestrationWorkflow.planned, start_workflow_operation=start
        )
        run_id = (await start.workflow_handle()).result_run_id
    except (WorkflowUpdateFailedError, WorkflowAlreadyStartedError, RPCError):
        # The run with this key has already finished: report it as it is. The start
        # operation failed with it; reading that failure keeps asyncio from
        # reporting it as never retrieved.
        with contextlib.suppress(WorkflowAlreadyStartedError, RPCError):
            await start.workflow_handle()
        run_id = (await handle.describe()).run_id
        state = await query_state(handle)
    state = with_predictions(state)
    differs = _differs(state, body) if idempotency_key is not None else None
    if idempotency_key is not None and differs is not None:
        # A key names one request: sent with another, it is a mistake to point out,
        # not a reason to hand back a run the caller did not ask for.
        raise key_reused(idempotency_key, body.tenant, differs)
    if state.problem is not None and state.problem.kind in _REFUSED:
        problem = state.problem
        # The reasons in the one line a caller reads first ("the plan is not valid:
        # the plan has 6 steps; the budget allows 5"), and in `problem` as a list.
        told = f"{problem.message}: {'; '.join(problem.details)}" if problem.details else (
            problem.message)
        if problem.kind == ProblemKind.UNAVAILABLE:  # not the request's fault
            told += ("; send the request again once it answers"
                     + (" (with a new Idempotency-Key)" if idempotency_key else ""))
        # Sent back as `conversation_id`, a message answers it ("the ecommerce one");
        # a question's refusal asks nothing.
        answerable = problem.kind != ProblemKind.QUESTION
        raise RunRefused(_REFUSED[problem.kind],
                         Refusal(detail=told, workflow_id=workflow_id,
                                 conversation_id=workflow_id if answerable else None,
                                 problem=problem, plan=state.refused_plan))
    result = with_keys_as_sent(await run_result(handle)) if body.wait else None
    return ChatResponse(
        workflow_id=workflow_id, run_id=run_id, status=(result or state).status,
        plan=state.plan, web_ui_url=settings.run_url(workflow_id, run_id),
        preview=state.preview, result=result, conversation_id=workflow_id,
        follows=state.follows,
        notes=lowercased_names(body.message, state.plan.steps if state.plan else []),
    )


def key_reused(key: str, tenant: str, first: str) -> HTTPException:
    """409 for a key first sent with another request (`first` says which). It names
    the key as the caller sent it, and its tenant: the tenant-scoped form the run
    is keyed by ('acme~k1') is no name the caller gave."""
    of = "" if tenant == DEFAULT_TENANT else f" of tenant {tenant!r}"
    return HTTPException(409, f"Idempotency-Key {key!r}{of} was used for another request "
                              f"({first}): use a new key for this one")


def _in_tenant_of(earlier: RunResult, body: ChatRequest) -> ChatRequest:
    """A follow-up is in its conversation's tenant: taken from it when the request
    names none; another tenant's conversation is not found (it is not theirs)."""
    if "tenant" not in body.model_fields_set:
        return body.model_copy(update={"tenant": earlier.tenant})
    if body.tenant != earlier.tenant:
        raise HTTPException(404, f"no conversation {body.conversation_id!r} in tenant "
                                 f"{body.tenant!r}: use the conversation_id of an earlier "
                                 "answer of this tenant")
    return body


def refused_request(run: RunResult) -> str | None:
    """The request a follow-up on `run` may answer: the one `run` could not plan
    (the first one asked, when `run` was itself an answer that did not do)."""
    if run.plan is not None or run.problem is None or run.problem.kind != (
        ProblemKind.CANNOT_PLAN
    ):
        return None
    return run.answering or run.request


def _differs(run: RunResult, body: ChatRequest) -> str | None:
    """What of the request sent differs from the one that started `run`. A plan
    approval is the one sign a run shows of `require_approval` (none when planning
    failed first, when nothing is compared)."""
    if run.request != body.message:
        return repr(run.request)
    options = {
        "dry_run": (run.dry_run, body.dry_run),
        "conversation_id": (run.follows, body.conversation_id),
    }
    if run.plan is not None and not run.dry_run:
        options["require_approval"] = (PLAN in run.approvals, body.require_approval)
    changed = [f"{name}={then!r}" for name, (then, now) in options.items() if then != now]
    return f"the same message with {', '.join(changed)}" if changed else None


async def _extend(
    body: ChatRequest, client: TemporalClientDep, settings: Settings, sent_key: str | None
) -> ChatResponse | None:
    """Add the follow-up's steps to the conversation's running run, under its
    tenant's form of `sent_key`; None when the run finished before it could take them."""
    assert body.conversation_id is not None
    workflow_id = body.conversation_id
    if body.require_approval:
        raise HTTPException(422, "require_approval applies to a new run; "
                                 f"run {workflow_id} is still going")
    added = await extend_run(client, workflow_id, body.message,
                             scoped_key(sent_key, body.tenant))
    if added is None:
        return None
    return await _extended(body, client, settings, added, sent_key)


async def _extended(
    body: ChatRequest, client: TemporalClientDep, settings: Settings, added: Extension,
    sent_key: str | None,
) -> ChatResponse:
    """The answer to a follow-up the conversation's run took on; 409 when its key
    (`sent_key`, as the caller sent it) was first sent with another message
    (Temporal answers a repeated update id with the first update's outcome,
    whatever the repeat carries)."""
    assert body.conversation_id is not None
    if sent_key is not None and added.message != body.message.strip():
        raise key_reused(sent_key, body.tenant, repr(added.message))
    workflow_id = body.conversation_id
    handle = run_handle(client, workflow_id)
    run_id = (await handle.describe()).run_id
    result = with_keys_as_sent(await run_result(handle)) if body.wait else None
    state: RunResult = (
        result if result is not None else await query_state(handle)
    )
    return ChatResponse(
        workflow_id=workflow_id, run_id=run_id, status=state.status, plan=state.plan,
        web_ui_url=settings.run_url(workflow_id, run_id), result=result,
        conversation_id=workflow_id, follows=state.follows, added_steps=added.steps,
        notes=lowercased_names(body.message, added.steps),
    )
