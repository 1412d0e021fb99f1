"""The `mcpServers` file: the JSON format desktop MCP clients read, plus our options.

    {"mcpServers": {
        "github": {"command": "python", "args": ["github_server.py"], "env": {"TOKEN": "..."}},
        "cloud":  {"url": "http://127.0.0.1:9000/mcp", "headers": {"Authorization": "..."},
                   "orchestrator": {"timeout_ms": 60000,
                                    "tools": {"deploy": {"produces": ["deployment"]}}}}
    }}

A command is one executable and an argv list; nothing is ever run through a shell.
Keys of other clients at the top level are kept when the file is saved.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from orchestrator.mcp.errors import McpConfigError
from orchestrator.mcp.files import write_atomic
from orchestrator.mcp.names import server_segment
from orchestrator.models import (
    CAPABILITY_PATTERN,
    MAX_WAIT_MS,
    NAME_PATTERN,
    Model,
    RetrySpec,
    WholeNumber,
    YesNo,
)

# What a shell would interpret; a command holding any of these was meant for a shell.
_SHELL_CHARS = re.compile(r"[;&|$`<>(){}*?!~\n\r\x00]")
_EntityKind = Annotated[str, Field(pattern=NAME_PATTERN)]


class ToolOptions(Model):
    """What the planner needs to know about one tool that MCP does not say."""

    consumes: list[_EntityKind] = []
    produces: list[_EntityKind] = []
    # A tool of the same server that undoes this one.
    compensation: str | None = None
    # Overrides the tool's annotations: whether a call needs approval.
    sensitive: YesNo | None = None
    # Publish the tool under this capability name instead of `mcp.<server>.<tool>`,
    # so that tools of several servers provide one capability (each server's agent
    # lists it; selection and fallback then work across servers). Such tools
    # should take the same arguments.
    provides: str | None = Field(default=None, pattern=CAPABILITY_PATTERN)
    # Arguments for parameters a request leaves unset ("notifications go to
    # #releases": `{"channel": "releases"}`); the planner uses them after what the
    # request and earlier steps give.
    defaults: dict[str, Any] = {}
    # How long one call of this tool may take, where the server's `timeout_ms`
    # does not fit it (one slow tool among quick ones).
    timeout_ms: WholeNumber | None = Field(default=None, ge=1, le=MAX_WAIT_MS)


class ServerOptions(Model):
    """Our options for one server, under the key "orchestrator"."""

    retry: RetrySpec = RetrySpec()
    timeout_ms: WholeNumber = Field(default=30_000, ge=1, le=MAX_WAIT_MS)
    connect_timeout_ms: WholeNumber = Field(default=30_000, ge=1, le=MAX_WAIT_MS)
    # Shell-style patterns (`git_*`); unset means every tool.
    include_tools: list[str] | None = None
    exclude_tools: list[str] = []
    tools: dict[str, ToolOptions] = {}
    # Overrides every tool's annotations: whether calls need approval.
    sensitive: YesNo | None = None
    # Whether a call whose result says `isError` is tried again by Temporal.
    retry_tool_errors: YesNo = True
    # "auto": the newest protocol the server speaks; "legacy": the initialize handshake.
    protocol: Literal["auto", "legacy"] = "auto"

    # Filters that leave no tool whatever the server offers are refused here, before
    # any connection (`mcp add --no-connect`, a file read at start-up); those that
    # leave none of the tools it does offer are found when it is listed.
    @field_validator("include_tools")
    @classmethod
    def _lets_some_through(cls, patterns: list[str] | None) -> list[str] | None:
        if patterns == []:
            raise ValueError("[] lets no tool through, so the server would serve nothing: "
                             "leave include_tools out for every tool" + _SWITCH_OFF)
        return patterns

    @field_validator("exclude_tools")
    @classmethod
    def _leaves_some(cls, patterns: list[str], info: ValidationInfo) -> list[str]:
        for pattern in patterns:
            if _matches_every_name(pattern):
                raise ValueError(f"{pattern!r} excludes every tool, so the server would "
                                 "serve nothing" + _SWITCH_OFF)
        # Declared before exclude_tools, so already read (absent if it was refused).
        include = info.data.get("include_tools")
        if include and all(_shut_out(pattern, patterns) for pattern in include):
            raise ValueError(f"excludes every tool include_tools ({', '.join(include)}) lets "
                             "through, so the server would serve nothing" + _SWITCH_OFF)
        return patterns

    @model_validator(mode="after")
    def _one_tool_per_capability(self) -> ServerOptions:
        seen: dict[str, str] = {}
        for tool, extra in sorted(self.tools.items()):
            if extra.provides is None:
                continue
            if extra.provides in seen:
                raise ValueError(
                    f"tools {seen[extra.provides]!r} and {tool!r} both provide "
                    f"{extra.provides!r}; one tool of a server per capability"
                )
            seen[extra.provides] = tool
        return self


_SWITCH_OFF = ' (to switch the server off, set "disabled": true)'


def _matches_every_name(pattern: str) -> bool:
    """Whether the shell-style pattern matches every tool name: `*`, `**`, `?*`
    (a tool's name is never empty)."""
    return "*" in pattern and set(pattern) <= {"*", "?"} and pattern.count("?") <= 1


def _shut_out(included: str, excluded: list[str]) -> bool:
    """Whether `exclude_tools` stops every name the include pattern lets through:
    the same pattern, or one name (no wildcard) that an exclude pattern matches."""
    if included in excluded:
        return True
    literal = not any(char in included for char in "*?[")
    return literal and any(fnmatchcase(included, pattern) for pattern in excluded)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Keys other MCP clients keep in a server's entry (auto-approval lists, their own
# timeouts, ...): kept as they are, and unused here. Any other unknown key is
# refused, naming it: it is more likely a typo of ours ("envv").
OTHER_CLIENTS_KEYS = frozenset({
    "alwaysAllow", "autoApprove", "timeout", "transportType", "trust", "description",
    "watchPaths", "networkTimeout",
})


class _Entry(Model):
    # Other clients' keys in it survive a save.
    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _only_known_foreign_keys(self) -> Self:
        unknown = sorted(set(self.model_extra or {}) - OTHER_CLIENTS_KEYS)
        if unknown:
            raise ValueError("; ".join(f"{key}: unknown field" for key in unknown))
        return self


class StdioServer(_Entry):
    type: Literal["stdio"] | None = None
    command: str = Field(min_length=1)
    args: list[str] = []
    # Added to a minimal inherited environment (PATH, HOME, ...); may hold secrets.
    env: dict[str, str] = Field(default={}, repr=False)
    cwd: str | None = None
    disabled: YesNo = False
    orchestrator: ServerOptions = ServerOptions()

    @field_validator("command")
    @classmethod
    def _one_executable(cls, command: str) -> str:
        if _SHELL_CHARS.search(command):
            raise ValueError("must be one executable, not a shell command line")
        if any(c.isspace() for c in command) and not Path(command).is_absolute():
            raise ValueError("must be one executable; put its arguments in 'args'")
        return command

    @field_validator("env")
    @classmethod
    def _variable_names(cls, env: dict[str, str]) -> dict[str, str]:
        # Only the names are told: the values may be secrets.
        bad = sorted(name for name in env if not _ENV_NAME.fullmatch(name))
        if bad:
            raise ValueError(f"not environment variable names: {', '.join(map(repr, bad))} "
                             "(letters, digits and _, not starting with a digit)")
        return env


class HttpServer(_Entry):
    type: Literal["http", "streamable-http", "streamableHttp"] | None = None
    url: str
    # Sent with every request; may hold secrets.
    headers: dict[str, str] = Field(default={}, repr=False)
    disabled: YesNo = False
    orchestrator: ServerOptions = ServerOptions()

    @field_validator("type", mode="before")
    @classmethod
    def _not_sse(cls, kind: Any) -> Any:
        if kind == "sse":
            raise ValueError("the SSE transport is not supported: give the server's "
                             "streamable HTTP endpoint (often .../mcp) instead")
        return kind

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL of a streamable HTTP endpoint")
        return url


def _server_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return "stdio" if isinstance(value, StdioServer) else "http"
    if not isinstance(value, dict):
        return None
    has_command, has_url = "command" in value, "url" in value
    if has_command == has_url:
        return None
    return "stdio" if has_command else "http"


ServerConfig = Annotated[
    Annotated[StdioServer, Tag("stdio")] | Annotated[HttpServer, Tag("http")],
    Discriminator(
        _server_kind,
        custom_error_type="server_kind",
        custom_error_message="needs exactly one of 'command' (stdio) or 'url' (streamable HTTP)",
    ),
]


class McpConfig(BaseModel):
    # Other clients keep their own settings in the same file; they survive a save.
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    servers: dict[str, ServerConfig] = Field(default={}, alias="mcpServers")

    @model_validator(mode="after")
    def _distinct_names(self) -> McpConfig:
        # Other clients' keys are kept, but one that reads as ours misspelt would
        # leave every server it holds unserved, without a word.
        for key in self.model_extra or {}:
            if key.lower().replace("_", "").replace("-", "") == "mcpservers":
                raise ValueError(f"{key!r}: the servers go under 'mcpServers' (that spelling)")
        seen: dict[str, str] = {}
        for name in self.servers:
            if not name.strip():
                raise ValueError("mcpServers: a server name is empty")
            segment = server_segment(name)
            if segment in seen:
                raise ValueError(
                    f"mcpServers: {seen[segment]!r} and {name!r} both become capability "
                    f"prefix 'mcp.{segment}'; rename one"
                )
            seen[segment] = name
        return self

    def enabled(self) -> dict[str, StdioServer | HttpServer]:
        return {name: s for name, s in sorted(self.servers.items()) if not s.disabled}


def parse_config(data: Any, source: str = "mcp config") -> McpConfig:
    """Validate decoded JSON; every bad field is named in the error, e.g.
    `mcpServers.github.args: Input should be a valid list`."""
    try:
        return McpConfig.model_validate(data)
    except ValidationError as error:
        raise McpConfigError(f"{source}: {_describe(error)}") from None


_SERVER: TypeAdapter[StdioServer | HttpServer] = TypeAdapter(ServerConfig)


def parse_server(data: Any) -> StdioServer | HttpServer:
    """Validate one server entry; errors name the field within it, e.g.
    `command: must be one executable, not a shell command line`."""
    try:
        return _SERVER.validate_python(data)
    except ValidationError as error:
        raise McpConfigError(_describe(error, tag_at=0)) from None


def load_config(path: Path) -> McpConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise McpConfigError(f"cannot read MCP config {path}: {error.strerror}") from None
    try:
        data = json.loads(text, object_pairs_hook=_one_of_each)
    except json.JSONDecodeError as error:
        raise McpConfigError(
            f"{path}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except _Repeated as repeated:
        # JSON keeps the last of a repeated key: one of two servers would vanish.
        raise McpConfigError(f"{path}: {repeated.key!r} is given twice in one object "
                             "(two servers of one name?): keep one") from None
    return parse_config(data, str(path))


class _Repeated(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _one_of_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Repeated(key)
        found[key] = value
    return found


def read_config(path: Path) -> McpConfig:
    """Like `load_config`, but a file not written yet is an empty configuration."""
    return load_config(path) if path.exists() else McpConfig()


def save_config(config: McpConfig, path: Path) -> None:
    """Write the file atomically, with only the fields that were set (defaults stay implicit)."""
    data = config.model_dump(mode="json", by_alias=True, exclude_unset=True)
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())


def _describe(error: ValidationError, tag_at: int = 2) -> str:
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        # The union's tag ("stdio" or "http") after the server name is ours, not the file's.
        if len(loc) > tag_at and loc[tag_at] in ("stdio", "http") and (
            tag_at == 0 or loc[0] == "mcpServers"
        ):
            del loc[tag_at]
        message = item["msg"].removeprefix("Value error, ")
        given = item["input"]
        if item["type"] in ("int_type", "float_type", "bool_type") and isinstance(
            given, str | bool | float | int
        ):
            # "Input should be a valid integer" alone, for "30000", reads as nonsense.
            message += f", not {_shown(given)}"
        problems.append(f"{'.'.join(loc)}: {message}" if loc else message)
    return "; ".join(problems)


def _shown(value: str | bool | float) -> str:
    """A value as the JSON it was written in."""
    return f"the string {json.dumps(value)}" if isinstance(value, str) else json.dumps(value)
