"""What `orchestrator chat` prints of a step: a tool's answer is shown, in part."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from orchestrator import chat_client
from orchestrator.api_client import run_line
from orchestrator.chat_client import (
    TEXT_LINES,
    Seen,
    _changes,
    _running_notes,
    _show_outcome,
    _show_plan,
    _step_line,
    _until_finished,
    in_run_order,
    shown_parameters,
)
from orchestrator.models import (
    AgentTry,
    Plan,
    PlanningTry,
    RunResult,
    RunStatus,
    Step,
    StepResult,
    StepStatus,
)


def test_a_tools_answer_is_shown_under_its_step() -> None:
    status = "On branch main\nnothing to commit, working tree clean"
    line = _step_line(StepResult(step_id="git-status", status=StepStatus.COMPLETED,
                                 output={"text": status, "structured_content": None}))
    assert line.splitlines() == ["✓ git-status: completed",
                                 "    │ On branch main",
                                 "    │ nothing to commit, working tree clean"]


def test_a_long_answer_is_cut_saying_where_the_rest_is() -> None:
    text = "\n".join(f"line {i}" for i in range(TEXT_LINES + 5))
    lines = _step_line(StepResult(step_id="log", status=StepStatus.COMPLETED,
                                  output={"text": text})).splitlines()
    assert len(lines) == 1 + TEXT_LINES + 1
    assert lines[-1] == "    │ ... (5 more lines: GET /v1/workflows/<id> has it all)"


def test_steps_without_text_are_one_line() -> None:
    for output in ({"application": "shop", "created": True}, {"summary": ""}, None):
        line = _step_line(StepResult(step_id="s", status=StepStatus.COMPLETED, output=output))
        assert "\n" not in line


def test_a_tool_that_answered_with_no_text_is_told_so() -> None:
    """Not to be mistaken for an answer left out."""
    line = _step_line(StepResult(step_id="s", status=StepStatus.COMPLETED,
                                 output={"text": "  ", "structured_content": None}))
    assert line.splitlines()[1:] == ["    │ (the tool answered with no text)"]


def test_an_error_that_only_repeats_the_status_is_not_said_twice() -> None:
    cancelled = StepResult(step_id="s", status=StepStatus.CANCELLED, error="cancelled")
    assert _step_line(cancelled) == "⊘ s: cancelled"
    failed = StepResult(step_id="s", status=StepStatus.FAILED, error="boom")
    assert _step_line(failed) == "✗ s: failed — boom"


def test_a_rollback_seen_between_two_polls_is_told_in_the_order_it_happened() -> None:
    at = [datetime(2026, 1, 1, 12, 0, s, tzinfo=UTC) for s in range(6)]
    state = RunResult(
        workflow_id="wf", status=RunStatus.ROLLING_BACK, request="r",
        steps={
            "app": StepResult(step_id="app", status=StepStatus.COMPENSATED, attempts=1,
                              started_at=at[0], finished_at=at[1]),
            "deploy": StepResult(step_id="deploy", status=StepStatus.FAILED, error="boom",
                                 started_at=at[2], finished_at=at[3]),
        },
        compensations={"app": StepResult(step_id="app", status=StepStatus.COMPLETED,
                                         started_at=at[4], finished_at=at[5])},
    )
    seen: Seen = {"app": (StepStatus.RUNNING, None), "deploy": (StepStatus.RUNNING, None)}
    assert _changes(state, seen) == [
        "✓ app: completed in 1000 ms (attempt 1)",
        "✗ deploy: failed — boom",
        "↺ app: compensated",
    ]
    assert {i: status for i, (status, _) in seen.items()} == {
        "app": StepStatus.COMPENSATED, "deploy": StepStatus.FAILED}
    assert _changes(state, seen) == []


def test_a_plan_is_listed_in_the_order_it_runs() -> None:
    def step(step_id: str, *after: str) -> Step:
        return Step(id=step_id, capability="c.x", agent="a", depends_on=list(after))

    # As the request said it: "deploy shop to staging and then create application shop".
    plan = [step("deploy", "app", "env"), step("policy", "deploy"), step("app"), step("env")]
    assert [s.id for s in in_run_order(plan)] == ["app", "env", "deploy", "policy"]


def test_an_undo_starting_as_the_failure_is_told_is_printed_after_it_and_once() -> None:
    # Workflow time: the failure and the first undo share one workflow task's clock
    # (steps are listed by id: the undone one comes first there).
    at = [datetime(2026, 1, 1, 12, 0, s, tzinfo=UTC) for s in range(4)]
    service = StepResult(step_id="svc", status=StepStatus.COMPENSATING, attempts=1,
                         started_at=at[0], finished_at=at[1])
    state = RunResult(
        workflow_id="wf", status=RunStatus.ROLLING_BACK, request="r",
        steps={"svc": service,
               "zz-deploy": StepResult(step_id="zz-deploy", status=StepStatus.FAILED, error="boom",
                                    started_at=at[1], finished_at=at[2])},
        compensations={"svc": StepResult(step_id="svc", status=StepStatus.RUNNING,
                                         started_at=at[2])},
    )
    seen: Seen = {"svc": (StepStatus.COMPLETED, None), "zz-deploy": (StepStatus.RUNNING, None)}
    assert _changes(state, seen) == ["✗ zz-deploy: failed — boom", "↶ svc: compensating"]
    # The next poll: the undo ended. Its step completed long ago: not told again.
    state.steps["svc"] = service.model_copy(update={"status": StepStatus.COMPENSATED})
    state.compensations["svc"] = StepResult(
        step_id="svc", status=StepStatus.COMPLETED, started_at=at[2], finished_at=at[3],
        output={"service": "payment", "deleted": True})
    assert _changes(state, seen) == ["↺ svc: compensated"]


def test_an_undo_that_left_its_entity_in_place_says_why() -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    kept = {"env": {"environment": "production", "deleted": False},
            "svc": {"service": "payment", "deleted": False, "kept_for": "wf2/create-service"},
            "app": {"application": "shop", "deleted": False, "kept_for": "wf/create-service"},
            "dep": {"deployment": "shop-prod", "deleted": False, "absent": True}}
    state = RunResult(
        workflow_id="wf", status=RunStatus.ROLLED_BACK, request="r",
        steps={i: StepResult(step_id=i, status=StepStatus.COMPENSATED, started_at=at,
                             finished_at=at) for i in kept},
        compensations={i: StepResult(step_id=i, status=StepStatus.COMPLETED, started_at=at,
                                     finished_at=at, output=out) for i, out in kept.items()},
    )
    seen: Seen = {i: (StepStatus.COMPENSATING, None) for i in kept}
    assert _changes(state, seen) == [
        "↺ app: compensated — left in place: step create-service of this run still holds it",
        "↺ dep: compensated — nothing left to remove",
        "↺ env: compensated — left in place: this run did not make it",
        "↺ svc: compensated — left in place: wf2/create-service relies on it",
    ]
    assert _changes(state, seen) == []
    # The rollback tried again: the application's undo ran again once the service's
    # had worked, and removed it. Same status, another outcome: told again.
    state.compensations["app"] = StepResult(
        step_id="app", status=StepStatus.COMPLETED, started_at=at,
        finished_at=at + timedelta(seconds=5), output={"application": "shop", "deleted": True})
    assert _changes(state, seen) == ["↺ app: compensated"]
    assert _changes(state, seen) == []


def test_a_step_that_moved_to_another_agent_says_so() -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    step = StepResult(
        step_id="deploy", status=StepStatus.COMPLETED, agent="mcp-west", attempts=1,
        started_at=at, finished_at=at,
        tries=[AgentTry(agent="mcp-east", ok=False, attempts=3, duration_ms=9,
                        error="no cluster prod"),
               AgentTry(agent="mcp-west", ok=True, attempts=1, duration_ms=2)])
    assert _step_line(step) == ("✓ deploy: completed in 0 ms (attempt 1) by mcp-west, "
                                "after mcp-east failed: no cluster prod")


def test_a_step_that_failed_on_every_agent_names_each_try() -> None:
    step = StepResult(
        step_id="deploy", status=StepStatus.FAILED, agent="mcp-west", attempts=1,
        error="no cluster prod (west)",
        tries=[AgentTry(agent="mcp-east", ok=False, attempts=3, duration_ms=9,
                        error="no cluster prod (east)"),
               AgentTry(agent="mcp-west", ok=False, attempts=1, duration_ms=2,
                        error="no cluster prod (west)")])
    assert _step_line(step).splitlines() == [
        "✗ deploy: failed — no cluster prod (west)",
        "    ✗ mcp-east: no cluster prod (east)",
        "    ✗ mcp-west: no cluster prod (west)"]
    alone = step.model_copy(update={"tries": step.tries[1:]})
    assert _step_line(alone) == "✗ deploy: failed — no cluster prod (west)"


@pytest.mark.parametrize(("trouble", "told"), [
    (None, "ConnectError"),  # the API is restarting
    (503, "HTTP 503"),  # the API is up, Temporal behind it is restarting
    (500, "HTTP 500"),
])
async def test_a_followed_run_waits_out_an_api_that_restarts(
    trouble: int | None, told: str
) -> None:
    finished = RunResult(workflow_id="wf", status=RunStatus.COMPLETED, request="r")
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls <= 2 and trouble is None:
            raise httpx.ConnectError("connection refused", request=request)
        if calls <= 2 and trouble is not None:
            return httpx.Response(trouble, text="Internal Server Error")
        return httpx.Response(200, json=finished.model_dump(mode="json"))

    out = io.StringIO()
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer),
                                 base_url="http://api") as http:
        state = await _until_finished(http, "wf", out)
    assert state.status == RunStatus.COMPLETED and calls == 3
    assert out.getvalue().startswith(f"(the API does not answer: {told}; waiting")


def test_the_plan_says_which_steps_wait_for_approval() -> None:
    plan = Plan(intent="t", request="t", steps=[
        Step(id="app", capability="application.create", agent="application-agent"),
        Step(id="dep", capability="deployment.create", agent="deployment-agent",
             depends_on=["app"], requires_approval=True),
    ])
    out = io.StringIO()
    _show_plan(plan, out)
    assert out.getvalue().splitlines()[1:] == [
        "  - app: application.create by application-agent",
        "  - dep: deployment.create by deployment-agent  (after app)  — waits for approval",
    ]


def test_a_dry_run_shows_each_steps_parameters_as_read() -> None:
    assert shown_parameters({
        "repo_path": "/tmp/repo", "text": "shipped v2", "nodes": 2, "tags": ["a", "b"],
        "cluster": "${steps.provision-cluster-prod.output.cluster}",
        "note": "built by ${steps.build.output.id}", "body": "x" * 70,
    }) == (
        'repo_path=/tmp/repo, text="shipped v2", nodes=2, tags=["a", "b"], '
        'cluster=<provision-cluster-prod.cluster>, note="built by <build.id>", '
        f"body={'x' * 60}…"
    )


def test_a_diagnosis_shows_its_issues_and_a_fix_its_summary() -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def done(step_id: str, output: dict[str, object]) -> StepResult:
        return StepResult(step_id=step_id, status=StepStatus.COMPLETED, attempts=1,
                          started_at=at, finished_at=at, output=output)

    logs = _step_line(done("diagnose-deployment-logs", {
        "check": "deployment_logs", "status": "problem",
        "issues": ["the last deployment failed: injected failure"]}))
    assert logs.splitlines()[1:] == ["    │ issue: the last deployment failed: injected failure"]
    fix = _step_line(done("fix", {"summary": "applied policy monitoring", "actions": []}))
    assert fix.splitlines()[1:] == ["    │ applied policy monitoring"]
    # Nothing to say: the one line.
    assert "\n" not in _step_line(done("inspect", {"health": "failing", "issues": []}))


def test_a_clean_up_after_a_step_that_did_not_complete_is_told() -> None:
    state = RunResult(
        workflow_id="wf", status=RunStatus.CANCELLED, request="r",
        steps={"svc": StepResult(step_id="svc", status=StepStatus.CANCELLED, error="cancelled"),
               "app": StepResult(step_id="app", status=StepStatus.COMPENSATED)},
        compensations={
            "svc": StepResult(step_id="svc", status=StepStatus.COMPLETED,
                              output={"service": "cart", "deleted": False, "absent": True}),
            "app": StepResult(step_id="app", status=StepStatus.COMPLETED,
                              output={"application": "shop", "deleted": True}),
        },
    )
    out = io.StringIO()
    _show_outcome(state, out)
    # The undo of a completed step has its own line (↺ app: compensated): not again.
    assert out.getvalue().splitlines()[0] == "↺ clean-up after svc: nothing left to remove"
    assert "app" not in out.getvalue()


def test_a_listed_run_shows_its_tenant_and_a_refused_one_says_so() -> None:
    run = {"workflow_id": "run-a", "status": "completed", "execution_status": "completed",
           "started_at": "2026-01-01T12:00:00+00:00", "tenant": "acme",
           "intent": "create application shop"}
    assert re.split(r"\s{2,}", run_line(run))[3:] == ["acme", "create application shop"]
    refused = {**run, "status": "failed", "intent": None}
    assert run_line(refused).endswith("  acme  (refused)")
    going = {**run, "status": "planning", "intent": None}
    assert run_line(going).endswith("  acme")


def test_a_running_steps_retries_and_progress_are_told_once_each() -> None:
    step = StepResult(step_id="sync", status=StepStatus.RUNNING, attempts=2,
                      error="attempt 1 failed: timed out; trying again", progress="1/4")
    state = RunResult(workflow_id="wf", status=RunStatus.RUNNING, request="r",
                      steps={"sync": step})
    noted: dict[str, str] = {}
    assert _running_notes(state, noted) == [
        "  ↻ sync: attempt 1 failed: timed out; trying again", "  ⋯ sync: 1/4"]
    assert _running_notes(state, noted) == []
    step.progress = "2/4"
    assert _running_notes(state, noted) == ["  ⋯ sync: 2/4"]
    step.status = StepStatus.COMPLETED
    assert _running_notes(state, noted) == []


async def test_a_request_the_api_cannot_take_yet_is_sent_again_under_one_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(chat_client, "START_RETRY_S", 0.01)
    keys: list[str | None] = []
    finished = RunResult(workflow_id="run-x", status=RunStatus.COMPLETED, request="r")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            keys.append(request.headers.get("Idempotency-Key"))
            if len(keys) <= 2:  # Temporal restarting behind the API
                return httpx.Response(503, json={"detail": "Temporal does not answer"})
            return httpx.Response(200, json={
                "workflow_id": "run-x", "conversation_id": "run-x", "web_ui_url": "u"})
        return httpx.Response(200, json=finished.model_dump(mode="json"))

    out = io.StringIO()
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer),
                                 base_url="http://api") as http:
        reply = await chat_client._start(http, {"message": "create application shop"}, out)
    assert reply.status_code == 200 and len(keys) == 3
    # One key: a request the API took before its 503 joins its run, not a second one.
    assert keys[0] is not None and keys[0].startswith("chat-") and len(set(keys)) == 1
    assert out.getvalue() == ("(the API answers 503: Temporal does not answer; trying "
                              "again for 60 s)\n")


async def test_watching_a_run_a_model_plans_tells_each_try_after_the_first_once() -> None:
    def planning(attempt: int, failure: str | None) -> RunResult:
        return RunResult(workflow_id="wf", status=RunStatus.PLANNING, request="r",
                         planning=PlanningTry(attempt=attempt, max_attempts=3,
                                              last_failure=failure))

    answers = [planning(1, None), planning(2, "the model did not answer within 2 s"),
               planning(2, "the model did not answer within 2 s"),
               RunResult(workflow_id="wf", status=RunStatus.COMPLETED, request="r")]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers.pop(0).model_dump(mode="json"))

    out = io.StringIO()
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer),
                                 base_url="http://api") as http:
        await _until_finished(http, "wf", out)
    assert out.getvalue() == ("(still planning: the model's try 2 of 3; try 1 failed: the "
                              "model did not answer within 2 s)\n")
