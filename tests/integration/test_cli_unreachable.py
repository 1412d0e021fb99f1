"""A command whose service does not answer, or whose port is taken, says so in one
line naming what to do, and exits 1: no traceback, nothing left running."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestrator.devserver import DevServer, free_port, listening
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.settings import Settings
from tests.command_line import run_cli


@contextmanager
def _taken(host: str = "127.0.0.1") -> Iterator[int]:
    """A loopback port something listens on."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    # A dev server that `up` starts must not need the Web UI's usual port.
    return {**os.environ, "ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"),
            "ORCHESTRATOR_TEMPORAL_UI_PORT": str(free_port())}


@pytest.mark.parametrize("command", [
    ("chat", "create application shop"),
    ("plan", "create application shop"),
    ("approve", "some-run"),
])
async def test_a_client_command_names_the_api_it_cannot_reach(
    env: dict[str, str], command: tuple[str, ...]
) -> None:
    api = f"http://127.0.0.1:{free_port()}"
    code, out = await run_cli(*command, "--api", api, env=env)
    assert code == 1 and "Traceback" not in out, out
    assert f"cannot reach the API at {api}" in out and "orchestrator up" in out, out


async def test_a_client_command_goes_where_up_serves_by_default(env: dict[str, str]) -> None:
    # `orchestrator up` in this environment would serve on ORCHESTRATOR_API_PORT.
    port = free_port()
    code, out = await run_cli("plan", "create application shop",
                              env={**env, "ORCHESTRATOR_API_PORT": str(port)})
    assert code == 1 and f"cannot reach the API at http://127.0.0.1:{port}" in out, out


async def test_a_second_process_on_the_embedded_graph_is_told_in_one_line(
    env: dict[str, str], temporal_server: DevServer
) -> None:
    data = Path(env["ORCHESTRATOR_DATA_DIR"])
    holder = EmbeddedGraphStore(Settings(data_dir=data).graph_path)
    await holder.setup()
    try:
        code, out = await run_cli("worker", env={
            **env, "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address})
    finally:
        await holder.close()
    assert code == 1 and "Traceback" not in out, out
    assert "is open in another process" in out, out


async def test_a_data_dir_that_cannot_be_made_is_named(env: dict[str, str]) -> None:
    code, out = await run_cli("worker", env={**env, "ORCHESTRATOR_DATA_DIR": "/proc/nope"})
    assert code == 1 and "Traceback" not in out, out
    assert "ORCHESTRATOR_DATA_DIR='/proc/nope' cannot be made" in out, out


async def test_a_graph_setting_that_cannot_work_is_told_before_temporal_starts(
    env: dict[str, str]
) -> None:
    code, out = await run_cli("up", "--api-port", str(free_port()), env={
        **env, "ORCHESTRATOR_GRAPH_BACKEND": "neo4j",
        "ORCHESTRATOR_TEMPORAL_PORT": str(free_port())})
    assert code == 1 and "Traceback" not in out, out
    assert "ORCHESTRATOR_NEO4J_PASSWORD is not set" in out, out
    # The dev server keeps its database in the data directory: it never started.
    assert not (Path(env["ORCHESTRATOR_DATA_DIR"]) / "temporal.db").exists()


async def test_replay_names_the_temporal_server_it_cannot_reach(env: dict[str, str]) -> None:
    address = f"127.0.0.1:{free_port()}"
    code, out = await run_cli("replay", "some-run",
                              env={**env, "ORCHESTRATOR_TEMPORAL_ADDRESS": address})
    assert code == 1 and "Traceback" not in out, out
    assert f"cannot reach the Temporal server at {address}" in out, out


async def test_up_refuses_a_taken_api_port_before_starting_anything(env: dict[str, str]) -> None:
    temporal = free_port()
    with _taken() as port:
        code, out = await run_cli("up", "--api-port", str(port),
                                  env={**env, "ORCHESTRATOR_TEMPORAL_PORT": str(temporal)})
    assert code == 1 and "Traceback" not in out, out
    assert f"the API's port {port} is taken" in out and "--api-port" in out, out
    assert not listening(temporal)  # no dev server was started


async def test_up_refuses_a_taken_metrics_port_before_starting_anything(
    env: dict[str, str],
) -> None:
    temporal = free_port()
    with _taken() as port:
        code, out = await run_cli("up", "--api-port", str(free_port()), env={
            **env, "ORCHESTRATOR_TEMPORAL_PORT": str(temporal),
            "ORCHESTRATOR_METRICS_PORT": str(port)})
    assert code == 1 and "Traceback" not in out, out
    assert f"the metrics port {port} is taken (ORCHESTRATOR_METRICS_PORT)" in out, out
    assert not listening(temporal)  # no dev server was started


async def test_up_names_a_taken_temporal_port(env: dict[str, str]) -> None:
    with _taken() as port:
        code, out = await run_cli("up", "--api-port", str(free_port()),
                                  env={**env, "ORCHESTRATOR_TEMPORAL_PORT": str(port)})
    assert code == 1 and "Traceback" not in out, out
    assert f"port {port} is taken" in out and "ORCHESTRATOR_TEMPORAL_ADDRESS" in out, out


async def test_up_names_a_taken_web_ui_port(env: dict[str, str]) -> None:
    temporal = free_port()
    with _taken() as port:
        code, out = await run_cli("up", "--api-port", str(free_port()), env={
            **env, "ORCHESTRATOR_TEMPORAL_PORT": str(temporal),
            "ORCHESTRATOR_TEMPORAL_UI_PORT": str(port)})
    assert code == 1 and "Traceback" not in out, out
    assert f"port {port}, for the Temporal Web UI, is taken" in out, out
    assert "ORCHESTRATOR_TEMPORAL_UI_PORT" in out and not listening(temporal), out


async def test_up_whose_api_cannot_bind_stops_the_dev_server_it_started(
    env: dict[str, str],
) -> None:
    # Taken on another loopback address, the port passes the check up makes first:
    # uvicorn's own failure to bind is what is left to handle.
    temporal = free_port()
    with _taken("127.0.0.2") as port:
        code, out = await run_cli("up", "--api-port", str(port), env={
            **env, "ORCHESTRATOR_TEMPORAL_PORT": str(temporal),
            "ORCHESTRATOR_API_HOST": "127.0.0.2",
        })
    assert code == 1 and "Traceback" not in out, out
    assert f"the API could not start on 127.0.0.2:{port}" in out, out
    assert not listening(temporal)  # the dev server was stopped


async def test_up_names_why_the_dev_server_did_not_start(env: dict[str, str]) -> None:
    # Its database cannot be opened: a directory stands where the file goes.
    (Path(env["ORCHESTRATOR_DATA_DIR"]) / "temporal.db").mkdir(parents=True)
    code, out = await run_cli("up", "--api-port", str(free_port()), env={
        **env, "ORCHESTRATOR_TEMPORAL_PORT": str(free_port())})
    assert code == 1 and "Traceback" not in out, out
    assert "the Temporal dev server exited: Error: failed starting server" in out, out
    assert "unable to open database file" in out, out
