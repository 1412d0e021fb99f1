"""What `orchestrator chat` prints of a step: a tool's answer is shown, in part."""

from __future__ import annotations

from orchestrator.chat_client import TEXT_LINES, _step_line
from orchestrator.models import StepResult, StepStatus


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
    for output in ({"application": "shop", "created": True}, {"text": "  "}, None):
        line = _step_line(StepResult(step_id="s", status=StepStatus.COMPLETED, output=output))
        assert "\n" not in line
