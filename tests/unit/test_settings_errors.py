"""A setting that does not fit is named, as the variable the user set, in one line."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.agents.faults import Fault
from orchestrator.agents.registry import AgentRegistry
from orchestrator.cli import SETTINGS_HELP, main
from orchestrator.errors import InvalidInput
from orchestrator.models import Agent, AgentKind, Limits
from orchestrator.settings import Settings, settings_problem


@pytest.mark.usefixtures("logger_levels")
@pytest.mark.parametrize(("name", "value", "says"), [
    ("ORCHESTRATOR_API_PORT", "abc",
     "ORCHESTRATOR_API_PORT='abc': Input should be a valid integer"),
    ("ORCHESTRATOR_GRAPH_BACKEND", "mongo",
     "ORCHESTRATOR_GRAPH_BACKEND='mongo': Input should be 'embedded' or 'neo4j'"),
    ("ORCHESTRATOR_SENSITIVE_CAPABILITIES", "notjson",
     "ORCHESTRATOR_SENSITIVE_CAPABILITIES cannot be read"),
    ("ORCHESTRATOR_API_PORT", "99999",
     "ORCHESTRATOR_API_PORT='99999': Input should be less than or equal to 65535"),
    ("ORCHESTRATOR_TEMPORAL_ADDRESS", "nohost",
     "ORCHESTRATOR_TEMPORAL_ADDRESS='nohost': Value error, give the Temporal frontend as "
     "host:port"),
    ("ORCHESTRATOR_TASK_QUEUE", " ", "ORCHESTRATOR_TASK_QUEUE=' ': String should match"),
    # Inside a JSON value, the problem is named where it is, once.
    ("ORCHESTRATOR_AGENT_FAULTS", '{"deployment.create": {"fail_attemps": 1}}',
     "ORCHESTRATOR_AGENT_FAULTS: deployment.create.fail_attemps: Extra inputs are not "
     "permitted"),
    ("ORCHESTRATOR_EXTRA_AGENTS", '[{"id": "x"}]',
     "ORCHESTRATOR_EXTRA_AGENTS: [0].kind: Field required; "
     "ORCHESTRATOR_EXTRA_AGENTS: [0].capabilities: Field required"),
    ("ORCHESTRATOR_AGENT_FAULTS", '{"deployment.create": {"delay_ms": -100}}',
     "ORCHESTRATOR_AGENT_FAULTS: deployment.create.delay_ms: Input should be greater than "
     "or equal to 0"),
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


@pytest.mark.parametrize(("faults", "says"), [
    ({"deployment.craete": Fault(fail_attempts=1)},
     "agent_faults: unknown capability 'deployment.craete'"),
    ({"deployment.create": Fault(fail_attempts=1, agent="policy-agent")},
     "agent_faults: deployment.create: agent 'policy-agent' does not provide it "
     "(those that do: deployment-agent)"),
])
def test_a_fault_that_would_inject_nothing_is_refused(
    faults: dict[str, Fault], says: str
) -> None:
    registry = AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)
    with pytest.raises(InvalidInput, match=re.escape(says)):
        registry.check_faults(faults)
    registry.check_faults({"deployment.create": Fault(agent="deployment-agent")})


@pytest.mark.parametrize(("extra", "says"), [
    (Agent(id="zz-agent", kind=AgentKind.BUILTIN, capabilities=["made.up"]),
     "agent 'zz-agent' provides unknown capabilities made.up (known: application.create"),
    (Agent(id="deployment-agent", kind=AgentKind.BUILTIN, capabilities=["deployment.create"]),
     "agent 'deployment-agent' is defined twice: give the extra agent an id of its own"),
])
def test_an_extra_agent_that_cannot_be_is_refused(extra: Agent, says: str) -> None:
    """Told in one line (it was a traceback), or no longer dropped without a word."""
    with pytest.raises(InvalidInput, match=re.escape(says)):
        AgentRegistry(PLATFORM_CAPABILITIES, [*PLATFORM_AGENTS, extra])


def test_the_commands_help_names_real_settings() -> None:
    named = re.findall(r"ORCHESTRATOR_([A-Z_]+[A-Z])", SETTINGS_HELP)
    assert len(named) >= 5
    assert sorted(n.lower() for n in named if n.lower() not in Settings.model_fields) == []


@pytest.mark.parametrize("name", [
    "ORCHESTRATOR_AGENT_FAULTS", "ORCHESTRATOR_SENSITIVE_CAPABILITIES", "ORCHESTRATOR_API_PORT",
    "ORCHESTRATOR_OPENAI_API_KEY", "ORCHESTRATOR_TASK_QUEUE"])
def test_a_variable_set_empty_is_as_unset(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clearing a variable with `NAME=` (as after trying a fault) kept `up` from starting."""
    monkeypatch.setenv(name, "")
    field = name.removeprefix("ORCHESTRATOR_").lower()
    assert getattr(Settings(), field) == Settings.model_fields[field].get_default(
        call_default_factory=True)
