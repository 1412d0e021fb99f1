"""A setting that does not fit is named, as the variable the user set, in one line."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from orchestrator.cli import main
from orchestrator.models import Limits
from orchestrator.settings import Settings, settings_problem


@pytest.mark.usefixtures("logger_levels")
@pytest.mark.parametrize(("name", "value", "says"), [
    ("ORCHESTRATOR_API_PORT", "abc",
     "ORCHESTRATOR_API_PORT='abc': Input should be a valid integer"),
    ("ORCHESTRATOR_GRAPH_BACKEND", "mongo",
     "ORCHESTRATOR_GRAPH_BACKEND='mongo': Input should be 'embedded' or 'neo4j'"),
    ("ORCHESTRATOR_SENSITIVE_CAPABILITIES", "notjson",
     "ORCHESTRATOR_SENSITIVE_CAPABILITIES cannot be read"),
])
def test_a_bad_setting_is_named_as_it_was_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    name: str, value: str, says: str,
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises((ValidationError, SettingsError)) as raised:
        Settings()
    error = raised.value
    assert isinstance(error, ValidationError | SettingsError)
    assert says in (settings_problem(error) or "")
    # The command says it in one line and exits 1.
    assert main(["mcp", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("orchestrator: ") and says in err and "Traceback" not in err


def test_another_model_s_validation_error_is_not_taken_for_a_setting() -> None:
    with pytest.raises(ValidationError) as raised:
        Limits.model_validate({"max_steps": "many"})
    assert settings_problem(raised.value) is None
