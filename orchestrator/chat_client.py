"""Sends a request to the API and follows the run step by step on a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, TextIO

import httpx

from orchestrator.api_client import (
    START_TIMEOUT_S,
    body_of,
    run_path,
    session,
    show_refusal,
)
from orchestrator.errors import ServiceUnreachable
from orchestrator.models import (
    STEP_REFERENCE,
    ApprovalStatus,
    Plan,
    PlanningTry,
    Preview,
    RunResult,
    RunStatus,
    Step,
    StepResult,
    StepStatus,
)
from orchestrator.run_ids import run_id_for
from orchestrator.wording import counted

POLL_S = 0.2
# How long a followed run waits for an API that stopped answering (a restart).
API_GONE_S = 60.0
# How often a request the API could not take (503) is sent again.
START_RETRY_S = 1.0
# The API answers once the request is planned: at once by the rules, but a slow
# model service takes its timeout, three times over, before the rules stand in.
# Past this, and as often again, `chat` says it is still planning.
PLANNING_NOTE_S = 3.0
MARKS = {StepStatus.PENDING: " ", StepStatus.AWAITING_APPROVAL: "?", StepStatus.RUNNING: "…",
         StepStatus.COMPLETED: "✓", StepStatus.FAILED: "✗", StepStatus.SKIPPED: "-",
         StepStatus.CANCELLED: "⊘", StepStatus.COMPENSATING: "↶", StepStatus.COMPENSATED: "↺",
         StepStatus.COMPENSATION_FAILED: "‼"}


async def follow(
    api: str, message: str, out: TextIO, conversation_id: str | None = None,
    api_option: str = "", follow_up_hint: bool = True, require_approval: bool = False,
) -> int:
    """Start a run (or, with `conversation_id`, follow up on one), print its plan
    and each step as it changes; 0 if it completed. `api_option` is what the
    commands it suggests need to reach the same API (` --api <address>`)."""
    body: dict[str, Any] = {"message": message}
    if require_approval:
        body["require_approval"] = True
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    async with session(api) as http:
        reply = await _start(http, body, out)
        if reply.status_code != 200:
            show_refusal(reply, out)
            _answer_hint(reply, out, api_option)
            return 2
        started: dict[str, Any] = reply.json()
        workflow_id = started["workflow_id"]
        out.write(f"Run {workflow_id}\n")
        _show_followup(started, out)
        if started.get("plan"):
            _show_plan(Plan.model_validate(started["plan"]), out)
        _show_notes(started, out)
        state = await _until_finished(http, workflow_id, out, api_option)
    _show_outcome(state, out)
    out.write(f"Temporal Web UI: {started['web_ui_url']}\n")
    if follow_up_hint:
        out.write(f"Follow up: orchestrator chat{api_option} --continue "
                  f'{started["conversation_id"]} "..."\n')
    return 0 if state.status == RunStatus.COMPLETED else 1


async def _start(http: httpx.AsyncClient, body: dict[str, Any], out: TextIO) -> httpx.Response:
    """Send the request; while the API answers 503 (Temporal or the graph restarting),
    send it again, for up to API_GONE_S. With a key of its own, a request sent again
    joins the run it may have started rather than start a second."""
    key = f"chat-{uuid.uuid4().hex}"
    headers = {"Idempotency-Key": key}
    # Found by its key while it plans; a follow-up may go to a run of another id.
    run_id = None if "conversation_id" in body else run_id_for(key)
    waited_since: float | None = None
    while True:
        async with _planning_notes(http, run_id, out):
            reply = await http.post("/v3/ai/chat", json=body, headers=headers,
                                    timeout=START_TIMEOUT_S)
        now = asyncio.get_running_loop().time()
        if reply.status_code != 503 or (waited_since and now - waited_since > API_GONE_S):
            return reply
        if waited_since is None:
            waited_since = now
            told = body_of(reply).get("detail")
            out.write(f"(the API answers 503: {told}; trying again for {API_GONE_S:.0f} s)\n")
            out.flush()
        await asyncio.sleep(START_RETRY_S)


@contextlib.asynccontextmanager
async def _planning_notes(
    http: httpx.AsyncClient, run_id: str | None, out: TextIO
) -> AsyncIterator[None]:
    """While the request is being planned: a line every PLANNING_NOTE_S after the
    first, so that a slow model does not look like a hung command; from its second
    try on, which try it is and why the one before failed (read from `run_id`)."""

    async def notes() -> None:
        waited = 0.0
        while True:
            await asyncio.sleep(PLANNING_NOTE_S)
            waited += PLANNING_NOTE_S
            planning = await _planning(http, run_id) if run_id else None
            if planning is None or planning.attempt < 2:
                told = "a model service can be slow; the rules plan if it does not answer"
            else:
                told = planning_told(planning)
            out.write(f"(still planning after {waited:g} s: {told})\n")
            out.flush()

    task = asyncio.create_task(notes())
    try:
        yield
    finally:
        task.cancel()


async def _planning(http: httpx.AsyncClient, run_id: str) -> PlanningTry | None:
    """The model's try on the run, as the API tells it; None if it cannot say now."""
    try:
        reply = await http.get(f"/v1/workflows/{run_id}", timeout=PLANNING_NOTE_S / 2)
    except httpx.HTTPError:
        return None
    if reply.status_code != 200:
        return None
    return RunResult.model_validate(reply.json()).planning


def planning_told(planning: PlanningTry) -> str:
    """"the model's try 2 of 3; try 1 failed: ...", for a try after the first."""
    of = f" of {planning.max_attempts}" if planning.max_attempts else ""
    told = f"the model's try {planning.attempt}{of}"
    if planning.last_failure:
        told += f"; try {planning.attempt - 1} failed: {planning.last_failure}"
    if planning.attempt == planning.max_attempts:
        told += "; the rules plan if this one fails too"
    return told


def _show_notes(answer: dict[str, Any], out: TextIO) -> None:
    """How the request was read that it may not expect ("'Shop' is named 'shop'")."""
    for note in answer.get("notes", []):
        out.write(f"Note: {note}\n")


def _answer_hint(reply: httpx.Response, out: TextIO, api_option: str) -> None:
    """How to answer a refusal that asks something ("name the one to fix")."""
    body = body_of(reply)
    problem = body.get("problem")
    if isinstance(problem, dict) and problem.get("kind") == "cannot_plan" and body.get(
        "conversation_id"
    ):
        out.write(f"Answer or say more: orchestrator chat{api_option} --continue "
                  f'{body["conversation_id"]} "..."\n')


async def watch(api: str, workflow_id: str, out: TextIO, api_option: str = "") -> int:
    """Follow a run already started (by another terminal, the API, a chat that lost
    its connection) as `follow` does; 0 if it completed."""
    async with session(api) as http:
        # A 503 (Temporal restarting) is waited for, as on each later look; an API
        # that is not there at all is told at once (is `up` running?).
        reply = await _answered(http, workflow_id, out, api_option, gone_too=False)
        if reply.status_code != 200:
            show_refusal(reply, out)
            return 2
        state = RunResult.model_validate(reply.json())
        out.write(f"Run {workflow_id}: {state.status.value}\n")
        if state.plan is not None:
            _show_plan(state.plan, out)
        state = await _until_finished(http, workflow_id, out, api_option)
    _show_outcome(state, out)
    return 0 if state.status == RunStatus.COMPLETED else 1


async def _until_finished(http: httpx.AsyncClient, workflow_id: str, out: TextIO,
                          api_option: str = "") -> RunResult:
    """Print each step as it changes, and each approval asked for, until the run ends.
    An API that stops answering for a while (restarted) is waited for."""
    seen: Seen = {}
    noted: dict[str, str] = {}
    asked: set[str] = set()
    told_incomplete = False
    told_planning = ""
    while True:
        reply = await _answered(http, workflow_id, out, api_option)
        reply.raise_for_status()
        state = RunResult.model_validate(reply.json())
        # `watch` of a run a model is still planning: each try after the first.
        if state.planning is not None and state.planning.attempt > 1:
            planning = planning_told(state.planning)
            if planning != told_planning:
                out.write(f"(still planning: {planning})\n")
                told_planning = planning
        for line in _changes(state, seen) + _running_notes(state, noted):
            out.write(line + "\n")
        # Said once each time, as an approval asked for is.
        incomplete = state.status == RunStatus.ROLLBACK_INCOMPLETE
        if incomplete and not told_incomplete and state.problem:
            out.write(f"? {state.problem.message}\n")
            out.writelines(f"  {line}\n" for line in state.problem.details)
        told_incomplete = incomplete
        for target in sorted(set(_pending(state)) - asked):
            asked.add(target)
            option = "" if target == "plan" else f" --step {target}"
            out.write(f"? {target} waits for approval: orchestrator approve{api_option} "
                      f"{workflow_id}{option} (or reject)\n")
        out.flush()
        if state.status.finished:
            return state
        await asyncio.sleep(POLL_S)


async def _answered(http: httpx.AsyncClient, workflow_id: str, out: TextIO,
                    api_option: str, gone_too: bool = True) -> httpx.Response:
    """The run as the API answers for it; an API that does not answer (a 5xx: it
    is up, what it needs is not, as Temporal restarting; with `gone_too`, one
    that cannot be reached, as restarting) is waited for, up to API_GONE_S."""
    lost_since: float | None = None
    while True:
        try:
            reply = await http.get(run_path(workflow_id))
            trouble = f"HTTP {reply.status_code}" if reply.is_server_error else None
        except httpx.TransportError as err:
            if not gone_too:
                raise
            trouble = type(err).__name__
        if trouble is None:
            return reply
        now = asyncio.get_running_loop().time()
        if lost_since is None:
            lost_since = now
            out.write(f"(the API does not answer: {trouble}; waiting "
                      f"{API_GONE_S:.0f} s for it)\n")
            out.flush()
        if now - lost_since > API_GONE_S:
            raise ServiceUnreachable(f"the API did not answer for {API_GONE_S:.0f} s "
                                     f"({trouble}); the run goes on: orchestrator watch"
                                     f"{api_option} {workflow_id}")
        await asyncio.sleep(POLL_S)


def _show_outcome(state: RunResult, out: TextIO) -> None:
    for step_id, undo in state.compensations.items():
        if undo.error:  # the step's own line says it was not undone; this says why
            out.write(f"‼ undo {step_id}: {undo.status.value} — {undo.error}\n")
        elif step_id in state.steps and state.steps[step_id].status not in UNDOING:
            # A clean-up after a step that started and did not complete: its own
            # line keeps saying failed or cancelled, so this one says what was done.
            out.write(f"↺ clean-up after {step_id}: {_cleaned(undo.output or {}, state)}\n")
    out.write(f"\nOutcome: {state.status.value}\n")
    if state.problem:
        out.write(f"Problem: {state.problem.message}\n")
        for line in state.problem.details:
            out.write(f"  {line}\n")
    if state.started_at and state.finished_at:
        took = (state.finished_at - state.started_at).total_seconds() * 1000
        out.write(f"Took {took:.0f} ms\n")


def _show_followup(answer: dict[str, Any], out: TextIO) -> None:
    """Where a follow-up went: into the running run, or a new run after the old."""
    if answer.get("added_steps"):
        ids = ", ".join(step["id"] for step in answer["added_steps"])
        out.write(f"Added to the running run: {ids}\n")
    elif answer.get("follows"):
        out.write(f"Follows run {answer['follows']}, which had ended\n")


def _pending(state: RunResult) -> list[str]:
    return [t for t, a in state.approvals.items() if a.status == ApprovalStatus.PENDING]


async def dry_run(api: str, message: str, out: TextIO) -> int:
    """Plan the request and show what would run, in what order, with predictions."""
    async with session(api) as http:
        reply = await http.post("/v3/ai/chat", json={"message": message, "dry_run": True},
                                timeout=START_TIMEOUT_S)
    if reply.status_code != 200:
        show_refusal(reply, out)
        return 2
    body = reply.json()
    _show_plan(Plan.model_validate(body["plan"]), out, parameters=True)
    _show_notes(body, out)
    preview = Preview.model_validate(body["preview"])
    out.write("Stages (steps in a stage run together):\n")
    for n, stage in enumerate(preview.stages, 1):
        out.write(f"  {n}. {', '.join(stage)}\n")
    out.write(f"Predicted duration: {preview.predicted_duration_ms} ms on the critical path\n"
              f"Predicted success: {preview.predicted_success:.1%}\n"
              f"  (both from: {preview.basis})\n"
              f"Nothing was run and nothing changed.\n\n{preview.mermaid}\n")
    return 0


async def control(api: str, workflow_id: str, action: str, out: TextIO,
                  step: str | None = None, reason: str = "", by: str = "") -> int:
    """Approve, reject, cancel a run or retry its rollback; prints what the answer does."""
    body = None if action in ("cancel", "rollback") else {
        "step_id": step, "reason": reason, "by": by}
    async with session(api) as http:
        reply = await http.post(f"{run_path(workflow_id)}/{action}", json=body)
    if reply.status_code != 200:
        show_refusal(reply, out)
        return 2
    # The state as the answer was taken: what follows from it has not happened yet.
    state = RunResult.model_validate(reply.json())
    if action == "rollback":
        return _retried(state, out)
    if action == "cancel":
        if state.status == RunStatus.ROLLBACK_INCOMPLETE:
            out.write(f"cancel: run {workflow_id} gives up its rollback: what was not "
                      "undone stays as it is\n")
        elif state.status == RunStatus.ROLLING_BACK:
            # The cancel took it straight to its rollback (it waited for an approval,
            # or its steps had just ended); one already rolling back is refused (409).
            out.write(f"cancel: run {workflow_id} is undoing what it did: the rollback "
                      "goes on to its end\n")
        else:
            out.write(f"cancel: run {workflow_id} is stopping: running steps are cancelled, "
                      "completed ones undone\n")
        return 0
    answered = max((a for a in state.approvals.values() if a.answered_at is not None),
                   key=lambda a: a.answered_at or datetime.min.replace(tzinfo=UTC), default=None)
    what = answered.target if answered else "the approval"
    done, then = (("approved", "goes on") if action == "approve"
                  else ("rejected", "stops and undoes what it did"))
    out.write(f"{done} {what}: run {workflow_id} {then}\n")
    return 0


def _retried(state: RunResult, out: TextIO) -> int:
    """What trying the undos again did: the run as that try left it."""
    if state.status == RunStatus.ROLLBACK_INCOMPLETE:
        for step_id, undo in state.compensations.items():
            if undo.status != StepStatus.COMPLETED:
                out.write(f"‼ undo {step_id}: {undo.status.value} — {undo.error}\n")
        out.write(f"rollback: run {state.workflow_id} is still incomplete\n")
        if state.problem:
            out.write(f"Problem: {state.problem.message}\n")
        return 1
    for step_id, undo in state.compensations.items():
        out.write(f"↺ undo {step_id}: {undo.status.value}\n")
    out.write(f"rollback: run {state.workflow_id} is {state.status.value}\n")
    return 0


def _show_plan(plan: Plan, out: TextIO, parameters: bool = False) -> None:
    # Who read the request: the model, or the rules (and why, when they stood in).
    by = "the model" if plan.planner == "llm" else "the rules"
    why = f"; {plan.fallback_reason}" if plan.fallback_reason else ""
    out.write(f"Plan: {counted(len(plan.steps), 'step')} (read by {by}{why})\n")
    for step in in_run_order(plan.steps):
        after = f"  (after {', '.join(step.depends_on)})" if step.depends_on else ""
        ask = "  — waits for approval" if step.requires_approval else ""
        out.write(f"  - {step.id}: {step.capability} by {step.agent}{after}{ask}\n")
        if parameters and step.parameters:
            out.write(f"      {shown_parameters(step.parameters)}\n")


VALUE_WIDTH = 60


def shown_parameters(params: dict[str, Any]) -> str:
    """What a step will be given, as read from the request and the tools' schemas:
    `name=shop, application=<create-application-shop.application>` (an earlier
    step's output, known once it ran)."""

    def shown(value: Any) -> str:
        if isinstance(value, str):
            whole = STEP_REFERENCE.fullmatch(value)
            if whole:
                return f"<{whole.group(1)}{whole.group(2)}>"
            # A text made of earlier outputs shows each of them as above.
            value = told = STEP_REFERENCE.sub(lambda r: f"<{r.group(1)}{r.group(2)}>", value)
            if told and not any(c.isspace() or c in ',"' for c in told):
                return told[:VALUE_WIDTH] + ("…" if len(told) > VALUE_WIDTH else "")
        text = json.dumps(value, ensure_ascii=False)
        return text[:VALUE_WIDTH] + ("…" if len(text) > VALUE_WIDTH else "")

    return ", ".join(f"{name}={shown(value)}" for name, value in params.items())


def in_run_order(steps: list[Step]) -> list[Step]:
    """The steps by how long a chain of steps each waits for (the plan keeps the
    request's order: "deploy shop to staging and then create application shop"
    lists the deploy first)."""
    by_id = {s.id: s for s in steps}
    depth: dict[str, int] = {}

    def depth_of(step_id: str, seen: frozenset[str]) -> int:
        if step_id not in depth:
            deps = [d for d in by_id[step_id].depends_on if d in by_id and d not in seen]
            depth[step_id] = 1 + max((depth_of(d, seen | {d}) for d in deps), default=-1)
        return depth[step_id]

    return sorted(steps, key=lambda s: depth_of(s.id, frozenset({s.id})))


UNDOING = (StepStatus.COMPENSATING, StepStatus.COMPENSATED, StepStatus.COMPENSATION_FAILED)


# A step's status, and when its undo last ended: an undo tried again (a rollback
# retried) may tell another outcome under the same status.
Seen = dict[str, tuple[StepStatus, datetime | None]]


def _changes(state: RunResult, seen: Seen) -> list[str]:
    """The lines for the steps that changed since `seen` (updated), in the order
    they changed: several may between two polls."""

    def now(step_id: str, step: StepResult) -> tuple[StepStatus, datetime | None]:
        undo = state.compensations.get(step_id) if step.status in UNDOING else None
        return step.status, undo.finished_at if undo is not None else None

    changed = [s for i, s in state.steps.items()
               if seen.get(i) != now(i, s) and s.status != StepStatus.PENDING]
    # (when, an undo's line or not, the line): an undo begun in the workflow task
    # that recorded the failure has the failure's time, and is told after it.
    lines: list[tuple[datetime, bool, str]] = []
    for step in changed:
        told = seen[step.step_id][0] if step.step_id in seen else None
        if step.status in UNDOING and told not in (StepStatus.COMPLETED, *UNDOING):
            # It completed between two polls before its undo began: say so first.
            done = step.model_copy(update={"status": StepStatus.COMPLETED})
            lines.append((_changed_at(done), False, _step_line(done)))
        undo = state.compensations.get(step.step_id) if step.status in UNDOING else None
        lines.append((_changed_at(undo or step), undo is not None,
                      _step_line(step, undo, state.workflow_id)))
        seen[step.step_id] = now(step.step_id, step)
    return [line for *_, line in sorted(lines, key=lambda tl: (tl[0], tl[1]))]


def _running_notes(state: RunResult, noted: dict[str, str]) -> list[str]:
    """What running steps said since `noted` (updated): a tool's progress ("2/4:
    copying"), an attempt that failed and is tried again. A long step is not silent."""
    lines = []
    for step in state.steps.values():
        if step.status != StepStatus.RUNNING:
            continue
        for note, mark in ((step.error, "↻"), (step.progress, "⋯")):
            if note and noted.get(f"{step.step_id}{mark}") != note:
                noted[f"{step.step_id}{mark}"] = note
                lines.append(f"  {mark} {step.step_id}: {note}")
    return lines


def _changed_at(step: StepResult) -> datetime:
    return step.finished_at or step.started_at or datetime.max.replace(tzinfo=UTC)


TEXT_LINES = 8
TEXT_WIDTH = 160


def _step_line(step: StepResult, undo: StepResult | None = None, run: str = "") -> str:
    line = f"{MARKS[step.status]} {step.step_id}: {step.status.value}"
    undone = (undo.output or {}) if undo is not None else {}
    if step.status == StepStatus.COMPENSATED and undone.get("deleted") is False:
        # Undone, yet not removed: say why, or it reads as removed.
        line += f" — {_kept(undone, run)}"
    if step.status == StepStatus.COMPLETED and step.started_at and step.finished_at:
        ms = (step.finished_at - step.started_at).total_seconds() * 1000
        line += f" in {ms:.0f} ms (attempt {step.attempts})"
        failed = [t for t in step.tries if not t.ok]
        if failed:  # it moved to another agent: which, and why
            line += f" by {step.agent}, after {failed[-1].agent} failed: {failed[-1].error}"
    if step.error and step.error != step.status.value:  # not "cancelled — cancelled"
        line += f" — {step.error}"
    if step.status == StepStatus.FAILED and len({t.agent for t in step.tries}) > 1:
        # It moved to other agents before failing for good: each one's try.
        line += "".join(f"\n    ✗ {t.agent}: {t.error}" for t in step.tries if not t.ok)
    text = _shown_text(step.output or {}) if step.status == StepStatus.COMPLETED else None
    if isinstance(text, str) and text.strip():
        # A tool's answer is what its step was for ("git status"): its first lines.
        lines = text.strip().splitlines()
        shown = [f"    │ {t[:TEXT_WIDTH]}" for t in lines[:TEXT_LINES]]
        if len(lines) > TEXT_LINES:
            shown.append(f"    │ ... ({len(lines) - TEXT_LINES} more lines: "
                         f"GET /v1/workflows/<id> has it all)")
        line += "\n" + "\n".join(shown)
    elif "text" in (step.output or {}) and not (step.output or {}).get("structured_content"):
        # A tool that said nothing ("git status" of a clean tree), not an answer left out.
        line += "\n    │ (the tool answered with no text)"
    return line


def _shown_text(output: dict[str, Any]) -> str | None:
    """What a step's output says to a person: a tool's text, a diagnosis's issues
    (what a question like "why is shop failing?" asked for), a fix's summary."""
    if isinstance(output.get("text"), str):
        return str(output["text"])
    issues = output.get("issues")
    if isinstance(issues, list) and issues:
        return "\n".join(f"issue: {issue}" for issue in issues)
    summary = output.get("summary")
    return summary if isinstance(summary, str) else None


def _cleaned(undone: dict[str, Any], state: RunResult) -> str:
    if undone.get("deleted"):
        return "removed what it had made"
    return _kept(undone, state.workflow_id)


def _kept(undone: dict[str, Any], run: str) -> str:
    """Why an undo did not remove what its step touched."""
    if undone.get("absent"):
        return "nothing left to remove"
    holder = undone.get("kept_for")
    if not isinstance(holder, str):
        return "left in place: this run did not make it"
    workflow, _, step_id = holder.rpartition("/")
    if workflow == run:  # its own step, whose undo failed or has yet to run
        return f"left in place: step {step_id} of this run still holds it"
    return f"left in place: {holder} relies on it"
