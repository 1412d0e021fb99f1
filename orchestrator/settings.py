"""One `Settings`, read from the environment (prefix `ORCHESTRATOR_`) at start-up
and passed down; nothing reads the environment anywhere else."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from orchestrator.agents.faults import Fault
from orchestrator.models import Agent, Limits

ENV_PREFIX = "ORCHESTRATOR_"
MAX_PORT = 65535


class Settings(BaseSettings):
    # A variable set empty (`ORCHESTRATOR_AGENT_FAULTS=`, to clear one) is as unset.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", env_ignore_empty=True)

    # Where Temporal is; unset means "start a local dev server".
    temporal_address: str | None = None
    temporal_namespace: str = Field(default="default", min_length=1)
    temporal_port: int = Field(default=7233, ge=1, le=MAX_PORT)
    temporal_ui_port: int = Field(default=8233, ge=1, le=MAX_PORT)
    # Base address of the Temporal Web UI, for links to runs.
    temporal_ui_url: str | None = None
    task_queue: str = Field(default="orchestrator", pattern=r"\S")  # not blank

    data_dir: Path = Path(".orchestrator")
    graph_backend: Literal["embedded", "neo4j"] = "embedded"
    # Used when graph_backend is "neo4j"; the password has no default.
    neo4j_uri: str = "neo4j://localhost:7687"
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr | None = None
    neo4j_database: str = "neo4j"
    # How long one statement or transaction may go unanswered before the graph is
    # told unavailable (a paused server, a network dropping packets).
    neo4j_query_timeout_s: float = Field(default=30.0, gt=0)

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=MAX_PORT)
    # Prometheus metrics of `up` and `worker` (Temporal's worker metrics and the
    # orchestrator's runs and steps) at http://<metrics_host>:<metrics_port>/metrics;
    # unset: none.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=1, le=MAX_PORT)

    # Run workflows in Temporal's sandbox (import isolation and run-time checks of
    # determinism), at a cost of a few ms a run; off trades that net for speed.
    workflow_sandbox: bool = True

    max_steps: int = Field(default=20, ge=1)
    max_parallel: int = Field(default=8, ge=1)

    # Failures and delays injected into built-in agents, by capability.
    agent_faults: dict[str, Fault] = {}

    # Capabilities whose steps always wait for an approval (besides those
    # sensitive by definition), and how long an approval may take: no answer
    # within it counts as a rejection.
    sensitive_capabilities: list[str] = []
    # Capabilities whose steps are best effort: failing for good skips them.
    optional_capabilities: list[str] = []
    # More built-in agents, e.g. a second one providing deployments: selection
    # then learns which does better, and a step moves to the other on failure.
    extra_agents: list[Agent] = []
    approval_timeout_s: int = Field(default=3600, ge=1)
    # How long a run whose rollback is incomplete (an undo failed for good) waits for
    # `orchestrator rollback <id>` before it ends `rollback_failed`.
    rollback_retry_timeout_s: int = Field(default=3 * 24 * 3600, ge=1)

    # The MCP servers to use, in the `mcpServers` JSON format desktop MCP clients read;
    # unset means `data_dir/mcp.json`. A missing file is an empty configuration.
    mcp_config: Path | None = None
    # Tool results larger than this are stored under `data_dir/blobs` and the run
    # carries a reference, so workflow histories stay small.
    mcp_inline_max_bytes: int = Field(default=64 * 1024, ge=1024)

    # The LLM planner, used when a key or a base URL is set (any server speaking the
    # OpenAI chat completions API with structured output); otherwise the offline one.
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    # Per request to the model; the plan activity's own timeout bounds the whole plan.
    openai_timeout_s: float = Field(default=20.0, gt=0)
    # Unreadable answers (not JSON of the expected shape) one question tolerates.
    openai_max_unreadable: int = Field(default=2, ge=1)
    # Capabilities shown to the model: the most relevant to the request, at most this many.
    openai_max_capabilities: int = Field(default=12, ge=1)
    # Callers of the API presenting it (`Authorization: Bearer <token>`) are MCP
    # admins: only they may register a stdio server (a command this host will run),
    # remove servers or approve changed tools. Unset: nobody may, over HTTP.
    mcp_admin_token: SecretStr | None = None

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _unset_if_empty(cls, port: object) -> object:
        # `ORCHESTRATOR_METRICS_PORT=` (set, empty) means no metrics, as unset does.
        return None if isinstance(port, str) and not port.strip() else port

    @field_validator("temporal_address")
    @classmethod
    def _host_and_port(cls, address: str | None) -> str | None:
        if address is not None and not re.fullmatch(r"\S+:\d{1,5}", address):
            raise ValueError("give the Temporal frontend as host:port, e.g. localhost:7233")
        return address

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None

    @property
    def address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def ui_url(self) -> str:
        return (self.temporal_ui_url or f"http://localhost:{self.temporal_ui_port}").rstrip("/")

    @property
    def graph_path(self) -> Path:
        return self.data_dir / "graph.lbug"

    @property
    def mcp_config_path(self) -> Path:
        return self.mcp_config or self.data_dir / "mcp.json"

    @property
    def mcp_dir(self) -> Path:
        """Pinned tool fingerprints and MCP server logs."""
        return self.data_dir / "mcp"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def limits(self) -> Limits:
        return Limits(max_steps=self.max_steps, max_parallel=self.max_parallel)

    def run_url(self, workflow_id: str, run_id: str | None = None) -> str:
        """Link to one run in the Temporal Web UI."""
        base = f"{self.ui_url}/namespaces/{self.temporal_namespace}/workflows/{workflow_id}"
        return f"{base}/{run_id}/history" if run_id else base


def settings_problem(error: ValidationError | SettingsError) -> str | None:
    """What is wrong with the settings read from the environment, naming each
    variable as it is set; None when `error` is not about them."""
    if isinstance(error, SettingsError):  # a list or a mapping that is not JSON
        field = re.search(r'field "(\w+)"', str(error))
        name = ENV_PREFIX + field.group(1).upper() if field else "a setting"
        return f"{name} cannot be read: {error} (lists and mappings are written as JSON)"
    if error.title != Settings.__name__:
        return None
    # One line per problem, each once (a union's branches may report one twice).
    return "; ".join(dict.fromkeys(_told(e) for e in error.errors()))


def _told(error: Any) -> str:
    """One problem: the variable, and where inside its value when the value is JSON
    (`ORCHESTRATOR_AGENT_FAULTS: deployment.create.fail_attemps: Extra inputs are not
    permitted`)."""
    loc = error["loc"]
    if not loc:
        return str(error["msg"])
    name = f"{ENV_PREFIX}{str(loc[0]).upper()}"
    if len(loc) == 1:
        return f"{name}={error['input']!r}: {error['msg']}"
    inside = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[1:])
    return f"{name}: {inside.lstrip('.')}: {error['msg']}"


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """`ORCHESTRATOR_*` variables that are no setting, each with the setting it most
    likely meant: a misspelt one (ORCHESTRATOR_AGENT_FAULT) would set nothing, and
    the fault or address the user thinks is set would silently not be."""
    names = [field.upper() for field in Settings.model_fields]
    told = []
    for variable in sorted(environ):
        given = variable.upper()
        if given.startswith(ENV_PREFIX) and given[len(ENV_PREFIX):] not in names:
            # Compared without the prefix they share, which would make any name "near".
            near = difflib.get_close_matches(given[len(ENV_PREFIX):], names, n=1, cutoff=0.75)
            hint = f" (did you mean {ENV_PREFIX}{near[0]}?)" if near else ""
            told.append(f"{variable} is not a setting{hint}: it is ignored")
    return told
