"""The command line's client of the API: an API that is not there and one that is
there but slow are different troubles, and said differently."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator

import pytest

from orchestrator import api_client, chat_client, cli
from orchestrator.devserver import free_port
from orchestrator.errors import ServiceUnreachable
from orchestrator.models import RunResult, RunStatus
from orchestrator.settings import Settings
from workflows.planning import PLAN_TIMEOUT


@pytest.fixture
async def silent_api() -> AsyncIterator[str]:
    """An API that takes requests and never answers (a model or a graph it waits on
    is slow)."""
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(60)

    port = free_port()
    server = await asyncio.start_server(hold, "127.0.0.1", port)
    async with server:
        yield f"http://127.0.0.1:{port}"


async def test_a_slow_api_is_not_told_as_one_that_is_not_running(
    silent_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Starting a run waits START_TIMEOUT_S (made short here), not the 30 s of the rest.
    monkeypatch.setattr(chat_client, "START_TIMEOUT_S", 0.5)
    with pytest.raises(ServiceUnreachable) as told:
        async with asyncio.timeout(10):
            await chat_client.follow(silent_api, "create application shop", io.StringIO())
    assert str(told.value).startswith(
        f"the API at {silent_api} took the request but did not answer in time (ReadTimeout)")
    assert "orchestrator runs" in str(told.value)
    assert "is `orchestrator up` running" not in str(told.value)


async def test_an_api_that_is_not_there_is_told_as_such() -> None:
    api = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnreachable, match="is `orchestrator up` running"):
        async with api_client.session(api) as http:
            await http.get("/healthz")


def test_starting_a_run_waits_longer_than_planning_may_take() -> None:
    assert PLAN_TIMEOUT.total_seconds() < api_client.START_TIMEOUT_S
    # A model's tries within one plan (then the rules stand in).
    assert 3 * Settings().openai_timeout_s < api_client.START_TIMEOUT_S


@contextlib.asynccontextmanager
async def scripted_api(answers: list[tuple[int, str]]) -> AsyncIterator[tuple[str, list[str]]]:
    """An API giving `answers` (status, JSON body) in turn, the last one from then on;
    yields its address and the paths asked for."""
    seen: list[str] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.decode().split()[1])
        code, body = answers.pop(0) if len(answers) > 1 else answers[0]
        writer.write(f"HTTP/1.1 {code} X\r\ncontent-type: application/json\r\n"
                     f"content-length: {len(body)}\r\nconnection: close\r\n\r\n{body}".encode())
        await writer.drain()
        writer.close()

    port = free_port()
    async with await asyncio.start_server(answer, "127.0.0.1", port):
        yield f"http://127.0.0.1:{port}", seen


async def test_a_run_id_names_that_run_and_no_other_path() -> None:
    out = io.StringIO()
    async with scripted_api([(404, '{"detail": "no such"}')]) as (api, seen):
        assert await chat_client.watch(api, "a/../b", out) == 2
    assert seen == ["/v1/workflows/a%2F..%2Fb"]
    assert "no such" in out.getvalue()


async def test_watch_waits_for_an_api_whose_temporal_is_restarting() -> None:
    """A 503 on the first look is no answer about the run: it is waited for, as on
    every later look (it gave up at once)."""
    run = RunResult(workflow_id="run-1", status=RunStatus.COMPLETED, request="x").model_dump_json()
    out = io.StringIO()
    async with scripted_api([(503, '{"detail": "Temporal does not answer"}'), (200, run)]
                            ) as (api, _):
        assert await chat_client.watch(api, "run-1", out) == 0
    assert "(the API does not answer: HTTP 503; waiting" in out.getvalue()
    assert "Outcome: completed" in out.getvalue()


@pytest.mark.parametrize("command", ["approve", "reject", "cancel", "watch", "history"])
def test_an_empty_run_id_is_refused_before_anything_is_sent(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([command, " ", "--api", "http://127.0.0.1:1"] if command != "history"
                 else [command, "", "--out", "x.json"])
    assert exited.value.code == 2
    assert "is not a run's workflow id: `orchestrator runs` lists them" in capsys.readouterr().err


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The API addresses `orchestrator runs` lists from, with no API to answer."""
    seen: list[str] = []

    async def runs(api: str, *rest: object) -> int:
        seen.append(api)
        return 0

    monkeypatch.setattr(api_client, "list_runs", runs)
    return seen


def test_an_api_address_without_its_scheme_is_taken_as_http(listed: list[str]) -> None:
    assert cli.main(["runs", "--api", "localhost:7600"]) == 0
    assert listed == ["http://localhost:7600"]


@pytest.mark.parametrize(("argv", "told"), [
    (["runs", "--api", "ftp://x"], "'ftp://x' is not the API's address: give it as http://host:port"),
    # A port that is none was a traceback from deep in the HTTP client.
    (["runs", "--api", "127.0.0.1:99999"], "'127.0.0.1:99999' is not the API's address"),
    (["runs", "--api", "http://127.0.0.1:78x0"], "'http://127.0.0.1:78x0' is not the API's"),
    (["replay", "wf", "--address", "localhost"],
     "'localhost': give the Temporal frontend as host:port, e.g. localhost:7233"),
    (["replay", "wf", "--address", "localhost:99999"], "'localhost:99999': give the Temporal"),
    (["replay", "wf", "--address", "http://localhost:7233"], "'http://localhost:7233': give"),
])
def test_a_bad_address_is_refused_naming_the_form(
    argv: list[str], told: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert told in capsys.readouterr().err


@pytest.mark.usefixtures("listed")
def test_a_misspelt_setting_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_AGENT_FAULT", "{}")
    monkeypatch.setenv("ORCHESTRATOR_FOO", "1")
    assert cli.main(["runs"]) == 0
    told = capsys.readouterr().err
    assert ("orchestrator: warning: ORCHESTRATOR_AGENT_FAULT is not a setting (did you mean "
            "ORCHESTRATOR_AGENT_FAULTS?): it is ignored") in told
    # Nothing is near it: no setting is suggested for the shared prefix alone.
    assert "warning: ORCHESTRATOR_FOO is not a setting: it is ignored" in told


@pytest.mark.usefixtures("listed")
def test_an_api_port_setting_that_is_no_port_is_told_by_the_commands_that_use_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_API_PORT", "99999")
    assert cli.main(["runs"]) == 0
    assert ("warning: ORCHESTRATOR_API_PORT='99999' is not a port: looking for the API at "
            "http://127.0.0.1:8000") in capsys.readouterr().err
    monkeypatch.setenv("ORCHESTRATOR_API_PORT", "7600")
    assert cli.main(["runs"]) == 0
    assert "ORCHESTRATOR_API_PORT" not in capsys.readouterr().err
