"""The `mcpServers` file: what is accepted, what is refused (naming the field), and saving."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from orchestrator.mcp import (
    HttpServer,
    McpConfigError,
    StdioServer,
    load_config,
    parse_config,
    save_config,
)
from orchestrator.models import RetrySpec

DESKTOP_FILE = {
    "globalShortcut": "Ctrl+Space",
    "mcpServers": {
        "git": {"command": "uvx", "args": ["mcp-server-git", "--repository", "."]},
        "GitHub Cloud": {
            "url": "https://mcp.example.com/mcp",
            "headers": {"Authorization": "Bearer secret-token"},
            "orchestrator": {
                "retry": {"max_attempts": 5},
                "timeout_ms": 60_000,
                "exclude_tools": ["delete_*"],
                "tools": {"create_repository": {
                    "produces": ["repository"], "compensation": "delete_repository",
                }},
            },
        },
        "off": {"command": "node", "args": ["server.js"], "disabled": True},
    },
}


def _error(data: Any) -> str:
    with pytest.raises(McpConfigError) as raised:
        parse_config(data)
    return str(raised.value)


def test_parse_reads_desktop_client_format_with_our_options() -> None:
    config = parse_config(DESKTOP_FILE)
    git, cloud = config.servers["git"], config.servers["GitHub Cloud"]
    assert isinstance(git, StdioServer) and git.args == ["mcp-server-git", "--repository", "."]
    assert isinstance(cloud, HttpServer) and cloud.headers["Authorization"] == "Bearer secret-token"
    assert cloud.orchestrator.retry == RetrySpec(max_attempts=5)
    assert cloud.orchestrator.tools["create_repository"].produces == ["repository"]
    assert git.orchestrator.timeout_ms == 30_000
    assert sorted(config.enabled()) == ["GitHub Cloud", "git"]


def test_parse_keeps_secrets_out_of_repr() -> None:
    config = parse_config(DESKTOP_FILE)
    assert "secret-token" not in repr(config.servers["GitHub Cloud"])


@pytest.mark.parametrize(("server", "field", "reason"), [
    ({"command": "python", "args": "server.py"}, "mcpServers.s.args", "valid list"),
    ({"command": "npx -y some-server"}, "mcpServers.s.command", "put its arguments in 'args'"),
    ({"command": "python; rm -rf /"}, "mcpServers.s.command", "not a shell command line"),
    ({"command": "python", "url": "http://x/mcp"}, "mcpServers.s", "exactly one of 'command'"),
    ({"args": ["x"]}, "mcpServers.s", "exactly one of 'command'"),
    ({"url": "ftp://files.example.com"}, "mcpServers.s.url", "http:// or https://"),
    ({"type": "sse", "url": "http://x/sse"}, "mcpServers.s.type",
     "the SSE transport is not supported"),
    ({"command": "python", "envv": {}}, "mcpServers.s", "envv: unknown field"),
    ({"command": "python", "orchestrator": {"timeout_ms": 0}},
     "mcpServers.s.orchestrator.timeout_ms", "greater than or equal to 1"),
    ({"command": "python", "orchestrator": {"tools": {"t": {"produces": ["Repo Kind"]}}}},
     "mcpServers.s.orchestrator.tools.t.produces.0", "should match pattern"),
    ({"command": "python", "orchestrator": {"retry": {"max_attempts": "many"}}},
     "mcpServers.s.orchestrator.retry.max_attempts", "valid integer"),
    # Temporal refuses these when the step is scheduled: the run would hang half done.
    ({"command": "python", "orchestrator": {"retry": {"initial_interval_ms": -3}}},
     "mcpServers.s.orchestrator.retry.initial_interval_ms", "greater than or equal to 1"),
    ({"command": "python", "orchestrator": {"retry": {"backoff": 0.5}}},
     "mcpServers.s.orchestrator.retry.backoff", "greater than or equal to 1"),
    ({"command": "python", "orchestrator": {"retry": {"max_attempts": 0}}},
     "mcpServers.s.orchestrator.retry.max_attempts", "greater than or equal to 1"),
    ({"command": "python", "orchestrator": {"retry": {"initial_interval_ms": 9000}}},
     "mcpServers.s.orchestrator.retry",
     "max_interval_ms (5000, the default) is less than initial_interval_ms (9000)"),
    # Nor may values be so large that Temporal's SDK cannot take them.
    ({"command": "python", "orchestrator": {"retry": {"max_attempts": 3_000_000_000}}},
     "mcpServers.s.orchestrator.retry.max_attempts", "less than or equal to 1000"),
    ({"command": "python", "orchestrator": {"retry": {"backoff": 1e309}}},
     "mcpServers.s.orchestrator.retry.backoff", "finite number"),
    ({"command": "python", "orchestrator": {"timeout_ms": 10**20}},
     "mcpServers.s.orchestrator.timeout_ms", "less than or equal to 604800000"),
    # Numbers are JSON numbers: `true` is not 1, nor "30000" 30000.
    ({"command": "python", "orchestrator": {"timeout_ms": True}},
     "mcpServers.s.orchestrator.timeout_ms", "Input should be a valid integer, not true"),
    ({"command": "python", "orchestrator": {"timeout_ms": "30000"}},
     "mcpServers.s.orchestrator.timeout_ms",
     'Input should be a valid integer, not the string "30000"'),
    ({"command": "python", "orchestrator": {"connect_timeout_ms": 2.5}},
     "mcpServers.s.orchestrator.connect_timeout_ms", "valid integer, not 2.5"),
    ({"command": "python", "orchestrator": {"retry": {"max_attempts": True}}},
     "mcpServers.s.orchestrator.retry.max_attempts", "valid integer, not true"),
    ({"command": "python", "orchestrator": {"retry": {"initial_interval_ms": "100"}}},
     "mcpServers.s.orchestrator.retry.initial_interval_ms", 'valid integer, not the string "100"'),
    ({"command": "python", "orchestrator": {"retry": {"backoff": "2"}}},
     "mcpServers.s.orchestrator.retry.backoff", 'valid number, not the string "2"'),
    ({"command": "python", "orchestrator": {"tools": {"t": {"timeout_ms": False}}}},
     "mcpServers.s.orchestrator.tools.t.timeout_ms", "valid integer, not false"),
    # Yes/no options are JSON booleans: "no" would have switched approvals off.
    ({"command": "python", "orchestrator": {"sensitive": "no"}},
     "mcpServers.s.orchestrator.sensitive", 'valid boolean, not the string "no"'),
    ({"command": "python", "orchestrator": {"tools": {"t": {"sensitive": 0}}}},
     "mcpServers.s.orchestrator.tools.t.sensitive", "valid boolean, not 0"),
    ({"command": "python", "orchestrator": {"retry_tool_errors": "false"}},
     "mcpServers.s.orchestrator.retry_tool_errors", 'valid boolean, not the string "false"'),
    ({"command": "python", "disabled": "yes"},
     "mcpServers.s.disabled", 'valid boolean, not the string "yes"'),
    ({"url": "http://x/mcp", "disabled": 1}, "mcpServers.s.disabled", "valid boolean, not 1"),
    # Filters that leave no tool, whatever the server offers.
    ({"command": "python", "orchestrator": {"exclude_tools": ["delete_*", "*"]}},
     "mcpServers.s.orchestrator.exclude_tools", "'*' excludes every tool"),
    ({"command": "python", "orchestrator": {"exclude_tools": ["?*"]}},
     "mcpServers.s.orchestrator.exclude_tools", "'?*' excludes every tool"),
    ({"command": "python", "orchestrator": {"include_tools": []}},
     "mcpServers.s.orchestrator.include_tools", "[] lets no tool through"),
    ({"command": "python", "orchestrator": {"include_tools": ["deploy", "git_*"],
                                            "exclude_tools": ["dep*", "git_*"]}},
     "mcpServers.s.orchestrator.exclude_tools",
     "excludes every tool include_tools (deploy, git_*) lets through"),
])
def test_parse_rejects_bad_field_naming_it(server: dict[str, Any], field: str, reason: str) -> None:
    message = _error({"mcpServers": {"s": server}})
    assert f"{field}: " in message and reason in message


def test_a_file_whose_filters_leave_no_tool_is_refused_naming_the_field(
    tmp_path: Path
) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"s": {
        "url": "http://127.0.0.1:1/mcp", "orchestrator": {"exclude_tools": ["*"]}}}}))
    with pytest.raises(McpConfigError) as raised:
        load_config(path)
    assert str(raised.value) == (
        f"{path}: mcpServers.s.orchestrator.exclude_tools: '*' excludes every tool, so the "
        'server would serve nothing (to switch the server off, set "disabled": true)')
    # Filters that leave some tools, whichever the server offers, are read as given.
    path.write_text(json.dumps({"mcpServers": {"s": {
        "url": "http://127.0.0.1:1/mcp",
        "orchestrator": {"include_tools": ["get_*", "deploy"], "exclude_tools": ["get_x", "?"]}}}}))
    assert load_config(path).servers["s"].orchestrator.exclude_tools == ["get_x", "?"]


def test_numbers_are_read_as_written_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {"s": {"command": "a", "orchestrator": '
                    '{"timeout_ms": "60000", "retry": {"max_attempts": true}}}}}')
    with pytest.raises(McpConfigError) as raised:
        load_config(path)
    assert str(raised.value) == (
        f'{path}: mcpServers.s.orchestrator.retry.max_attempts: Input should be a valid '
        'integer, not true; mcpServers.s.orchestrator.timeout_ms: Input should be a valid '
        'integer, not the string "60000"')
    # A whole number written as a float is that number; an int is a float's value.
    path.write_text('{"mcpServers": {"s": {"command": "a", "orchestrator": '
                    '{"timeout_ms": 60000.0, "retry": {"backoff": 3, "max_attempts": 5}}}}}')
    options = load_config(path).servers["s"].orchestrator
    assert (options.timeout_ms, options.retry.backoff, options.retry.max_attempts) == (
        60000, 3.0, 5)
    assert isinstance(options.timeout_ms, int) and isinstance(options.retry.backoff, float)


@pytest.mark.parametrize("key", ["mcpservers", "mcp_servers", "MCPServers"])
def test_the_servers_key_misspelt_is_refused_not_read_as_no_servers(key: str) -> None:
    message = _error({key: {"git": {"command": "a"}}})
    assert f"{key!r}: the servers go under 'mcpServers'" in message
    # Other clients' own keys stay welcome.
    assert parse_config({"mcpServers": {}, "globalShortcut": "x"}).servers == {}


def test_parse_rejects_names_that_collide_as_capabilities() -> None:
    message = _error({"mcpServers": {"Git Hub": {"command": "a"}, "git_hub": {"command": "b"}}})
    assert "'Git Hub'" in message and "'git_hub'" in message and "'mcp.git_hub'" in message


def test_env_keys_must_be_variable_names_and_their_values_stay_unsaid() -> None:
    message = _error({"mcpServers": {"x": {"command": "a", "env": {
        "BAD KEY": "s3cret", "1ST": "s3cret", "GOOD_2": "s3cret"}}}})
    assert "mcpServers.x.env" in message and "'1ST', 'BAD KEY'" in message
    assert "GOOD_2" not in message and "s3cret" not in message


def test_load_names_file_line_and_column_of_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {\n  "git": {"command": "uvx",}\n}}')
    with pytest.raises(McpConfigError, match=r"mcp\.json: not valid JSON at line 2, column 28"):
        load_config(path)


def test_load_refuses_a_server_named_twice(tmp_path: Path) -> None:
    # JSON keeps the last of a repeated key: the first server would vanish unsaid.
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {"dup": {"command": "a"}, "dup": {"command": "b"}}}')
    with pytest.raises(McpConfigError, match=r"mcp\.json: 'dup' is given twice in one object"):
        load_config(path)


def test_load_reports_missing_file(tmp_path: Path) -> None:
    with pytest.raises(McpConfigError, match=r"cannot read MCP config .*missing\.json"):
        load_config(tmp_path / "missing.json")


def test_load_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"git": {"command": 42}}}))
    with pytest.raises(McpConfigError, match=r"mcp\.json: mcpServers\.git\.command: "):
        load_config(path)


def test_save_round_trips_and_keeps_other_clients_keys(tmp_path: Path) -> None:
    path = tmp_path / "claude_desktop_config.json"
    config = parse_config(DESKTOP_FILE)
    save_config(config, path)
    # Exactly what was written: other clients' keys kept, defaults left implicit.
    assert json.loads(path.read_text()) == DESKTOP_FILE
    assert load_config(path) == config
    # Tokens live in this file: only its owner may read it.
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_other_clients_keys_in_an_entry_are_kept_and_unused(tmp_path: Path) -> None:
    # As a Cline or Roo user's file has them.
    data = {"mcpServers": {"git": {"command": "uvx", "args": ["mcp-server-git"],
                                   "alwaysAllow": ["git_status"], "timeout": 60,
                                   "disabled": False}}}
    path = tmp_path / "mcp.json"
    save_config(parse_config(data), path)
    assert json.loads(path.read_text()) == data
    git = load_config(path).servers["git"]
    assert isinstance(git, StdioServer) and git.orchestrator.timeout_ms == 30_000


def test_save_replaces_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    save_config(parse_config(DESKTOP_FILE), path)
    config = load_config(path)
    del config.servers["git"]
    save_config(config, path)
    assert sorted(load_config(path).servers) == ["GitHub Cloud", "off"]
    assert [p.name for p in tmp_path.iterdir()] == ["mcp.json"]


def test_provides_names_a_capability_one_tool_of_a_server_publishes() -> None:
    tools = {"deploy": {"provides": "cloud.deploy"}, "ship": {"provides": "cloud.deploy"}}
    with pytest.raises(McpConfigError, match="tools 'deploy' and 'ship' both provide"):
        parse_config({"mcpServers": {"a": {"url": "http://x/mcp",
                                           "orchestrator": {"tools": tools}}}})
    with pytest.raises(McpConfigError, match=r"provides: String should match pattern"):
        parse_config({"mcpServers": {"a": {"url": "http://x/mcp", "orchestrator": {
            "tools": {"deploy": {"provides": "Deploy It"}}}}}})
