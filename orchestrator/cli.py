"""The `orchestrator` command: `up`, `worker`, `api`, `demo`, `chat`, `watch`, `runs`,
`graph`, `plan`, `approve`, `reject`, `cancel`, `rollback`, `replay`, `history` and
`mcp`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import re
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic_settings import SettingsError

from orchestrator import stopping
from orchestrator.errors import InvalidInput, OrchestratorError
from orchestrator.mcp_cli import add_commands as add_mcp_commands
from orchestrator.settings import MAX_PORT, Settings, settings_problem, unknown_variables

if TYPE_CHECKING:
    from temporalio.client import Client

API_HELP = ("API base address (default: http://127.0.0.1:ORCHESTRATOR_API_PORT, the port "
            "`orchestrator up` serves on, else 8000)")
ADDRESS_HELP = ("Temporal server host:port (default: ORCHESTRATOR_TEMPORAL_ADDRESS, "
                "else 127.0.0.1:ORCHESTRATOR_TEMPORAL_PORT)")
log = logging.getLogger("orchestrator")

# Signals that stop a command, and its exit code then (128 + the signal).
# SIGHUP: the terminal went away (the dev server `up` started must stop with it).
STOP_SIGNALS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
S1 = (
    "Create application ecommerce with payment service, deploy to production "
    "with monitoring and security policies"
)


def default_api() -> str:
    """Where `orchestrator up` serves when started in this environment: its port
    setting is read the way `up` reads it (a bad value is `up`'s to report)."""
    port = os.environ.get("ORCHESTRATOR_API_PORT", "").strip()
    usable = port.isdigit() and 0 < int(port) <= MAX_PORT
    return f"http://127.0.0.1:{port if usable else 8000}"


def api_option(api: str) -> str:
    """What a suggested command needs to reach `api`: nothing for the default."""
    return "" if api.rstrip("/") == default_api() else f" --api {api}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # httpx2: the MCP SDK's HTTP client, a line per request to a streamable HTTP server.
    for noisy in ("temporalio", "httpx", "httpx2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The workflow's own lines (a run's end), not the SDK's: those are a run's story.
    logging.getLogger("temporalio.workflow").setLevel(logging.INFO)
    # The graph store raises the Neo4j driver's failures as errors naming what is
    # wrong; the driver's own log lines would only repeat them, less clearly.
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    for told in unknown_variables(os.environ):
        print(f"orchestrator: warning: {told}", file=sys.stderr)
    port = os.environ.get("ORCHESTRATOR_API_PORT", "").strip()
    usable = port.isdigit() and 0 < int(port) <= MAX_PORT
    if getattr(args, "api", None) == default_api() and port and not usable:
        # `up` refuses it; a command looking for the API says where it looks instead.
        print(f"orchestrator: warning: ORCHESTRATOR_API_PORT={port!r} is not a port: "
              f"looking for the API at {args.api}", file=sys.stderr)
    try:
        return int(asyncio.run(_until_stopped(args.func(args))) or 0)
    except KeyboardInterrupt:
        return STOP_SIGNALS[signal.SIGINT]
    except BrokenPipeError:
        # The reader went away (`orchestrator mcp tools x | head`): nothing more to
        # say, and Python's own flush at exit must not fail again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a command killed by the pipe's end would
    except OrchestratorError as err:
        # Bad configuration or input, a service not answering: one line saying
        # what to fix, not a traceback.
        print(f"orchestrator: {err}", file=sys.stderr)
        return 1
    except (ValidationError, SettingsError) as err:
        problem = settings_problem(err)
        if problem is None:
            raise
        print(f"orchestrator: {problem}", file=sys.stderr)
        return 1


async def _until_stopped(work: Coroutine[Any, Any, int | None]) -> int | None:
    """Run a command; SIGINT, SIGTERM or SIGHUP stop it cleanly (its `finally`s run:
    the worker drains, the graph is closed, a dev server it started is stopped).
    Handled here rather than left to Python's default: a process a shell starts in
    the background inherits SIGINT ignored, service managers stop processes with
    SIGTERM, and a closed terminal sends SIGHUP."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []

    def stop(sig: signal.Signals) -> None:
        # Once: the command is already stopping (and uvicorn, which catches these
        # signals while it serves, raises them again when it is done).
        if not received:
            received.append(sig)
            # Said at once: draining running steps and closing the graph take a while.
            if stopping.reasons:
                log.info("stopping: %s", stopping.reasons[-1])
            else:
                log.info("%s received: stopping", sig.name)
            task.cancel()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop, sig)
    try:
        return await task
    except asyncio.CancelledError:
        if not received:
            raise
        return STOP_SIGNALS[received[0]]
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


# The rest of the settings are environment variables; the README lists them all.
SETTINGS_HELP = (
    "Settings come from ORCHESTRATOR_* environment variables (the README's Settings "
    "section lists them all), among them: ORCHESTRATOR_DATA_DIR (graph and Temporal "
    "database), ORCHESTRATOR_TEMPORAL_ADDRESS (use this Temporal instead of starting "
    "one), ORCHESTRATOR_TEMPORAL_PORT and ORCHESTRATOR_TEMPORAL_UI_PORT (the dev server "
    "started here), ORCHESTRATOR_API_PORT, ORCHESTRATOR_TASK_QUEUE, "
    "ORCHESTRATOR_GRAPH_BACKEND."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="command")

    up = sub.add_parser("up", help="start Temporal (unless configured), the worker and the API",
                        epilog=SETTINGS_HELP)
    up.add_argument("--api-port", type=_port,
                    help="API port (default: ORCHESTRATOR_API_PORT, else 8000)")
    up.set_defaults(func=_up)

    worker = sub.add_parser("worker", help="run a worker only", epilog=SETTINGS_HELP)
    worker.set_defaults(func=_worker)

    api = sub.add_parser("api", help="run the API only, the workers elsewhere (needs "
                         "ORCHESTRATOR_TEMPORAL_ADDRESS and the Neo4j graph)",
                         epilog=SETTINGS_HELP)
    api.add_argument("--api-port", type=_port,
                     help="API port (default: ORCHESTRATOR_API_PORT, else 8000)")
    api.set_defaults(func=_api)

    chat = sub.add_parser("chat", help="send a request to a running API and follow it")
    chat.add_argument("message")
    chat.add_argument("--api", default=default_api(), type=_api_url, help=API_HELP)
    chat.add_argument("--continue", dest="conversation", metavar="WORKFLOW_ID", type=_run_id,
                      help="follow up on this run: add to it while it runs, else start "
                           "a run that follows it")
    chat.add_argument("--require-approval", action="store_true",
                      help="the whole plan waits for an approval before anything runs")
    chat.set_defaults(func=_chat)

    watch = sub.add_parser("watch", help="follow a run already started, step by step")
    watch.add_argument("workflow_id", type=_run_id)
    watch.add_argument("--api", default=default_api(), type=_api_url, help=API_HELP)
    watch.set_defaults(func=_watch)

    runs = sub.add_parser("runs", help="list runs, those still going first")
    runs.add_argument("--status", help="only runs in this status (running, "
                      "awaiting_approval, completed, rolled_back, failed, ...)")
    runs.add_argument("--tenant", help="only this tenant's runs")
    runs.add_argument("--limit", type=int, default=20, help="runs a page (1-100; default 20)")
    runs.add_argument("--page", help="the page a previous listing named")
    runs.add_argument("--api", default=default_api(), type=_api_url, help=API_HELP)
    runs.set_defaults(func=_runs)

    graph = sub.add_parser("graph", help="what the graph holds: the entities runs made, "
                           "one with its relationships")
    graph.add_argument("kind", nargs="?", help="only entities of this kind (application, "
                       "service, environment, deployment, policy, ...)")
    graph.add_argument("name", nargs="?", help="this entity, with its relationships")
    graph.add_argument("--limit", type=int, default=100, help="entities a page (1-500; "
                       "default 100)")
    graph.add_argument("--offset", type=int, default=0, help="the page a previous listing "
                       "named")
    graph.add_argument("--api", default=default_api(), type=_api_url, help=API_HELP)
    graph.set_defaults(func=_graph)

    plan = sub.add_parser("plan", help="dry run: show the plan, its stages and predictions")
    plan.add_argument("message")
    plan.add_argument("--api", default=default_api(), type=_api_url, help=API_HELP)
    plan.set_defaults(func=_plan)

    for action, text in (("approve", "approve a pending approval of a run"),
                         ("reject", "reject a pending approval: the run rolls back"),
                         ("cancel", "cancel a run: completed steps are compensated"),
                         ("rollback", "try again the undos that failed in a run whose "
                                      "rollback is incomplete")):
        control = sub.add_parser(action, help=text)
        control.add_argument("workflow_id", type=_run_id)
        control.add_argument("--api", default=default_api(), type=_api_url, help=API_HELP)
        if action in ("approve", "reject"):
            control.add_argument("--step", help="the step waiting (default: the plan, "
                                 "or the only step waiting)")
            control.add_argument("--reason", default="", help="why, for the record")
            control.add_argument("--by", default=_login(),
                                 help="who answers, for the record (default: your login)")
        control.set_defaults(func=_control, action=action)

    replay = sub.add_parser("replay", help="replay a run's history against the current code")
    source = replay.add_mutually_exclusive_group(required=True)
    source.add_argument("workflow_id", nargs="?", type=_run_id,
                        help="fetch this run's history from Temporal")
    source.add_argument("--file", type=Path, help="a history saved as JSON")
    replay.add_argument("--address", type=_address, help=ADDRESS_HELP)
    replay.set_defaults(func=_replay)

    history = sub.add_parser("history", help="save a run's history as JSON")
    history.add_argument("workflow_id", type=_run_id)
    history.add_argument("--out", type=Path, required=True, help="file to write")
    history.add_argument("--address", type=_address, help=ADDRESS_HELP)
    history.set_defaults(func=_history)

    demo = sub.add_parser("demo", help="start everything, run the S1 request, show the result",
                          epilog=SETTINGS_HELP)
    demo.add_argument("--api-port", type=_port,
                      help="API port (default: ORCHESTRATOR_API_PORT, else 8000)")
    demo.add_argument("--exit", action="store_true", help="stop once the run is over")
    demo.add_argument("--message", default=S1, help="the request to run")
    demo.set_defaults(func=_demo)

    add_mcp_commands(sub)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """The settings of a command that runs the orchestrator, its data directory
    made (and found writable) before anything starts."""
    settings = Settings()
    port = getattr(args, "api_port", None)
    if port:
        settings = settings.model_copy(update={"api_port": port})
    where = settings.data_dir
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InvalidInput(f"ORCHESTRATOR_DATA_DIR={str(where)!r} cannot be made: "
                           f"{err.strerror or err}") from None
    if not os.access(where, os.W_OK | os.X_OK):
        raise InvalidInput(f"ORCHESTRATOR_DATA_DIR={str(where)!r} is not writable")
    return settings


def _port(text: str) -> int:
    """An --api-port value: a TCP port."""
    if not text.isdigit() or not 0 < int(text) <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-{MAX_PORT})")
    return int(text)


def _api_url(text: str) -> str:
    """An --api value: an http(s) address; "localhost:8000" is taken as http, as
    curl takes it (the HTTP client would say only "UnsupportedProtocol")."""
    given = text.strip()
    if "://" not in given:
        given = f"http://{given}"
    url = urlsplit(given)
    try:
        port = url.port  # raises for one that is not a number, or out of range
    except ValueError:
        port = -1
    if url.scheme not in ("http", "https") or not url.hostname or port == -1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not the API's address: give it as http://host:port")
    return given


def _address(text: str) -> str:
    """An --address value, as ORCHESTRATOR_TEMPORAL_ADDRESS is checked."""
    found = re.fullmatch(r"([^\s:/]+|\[[0-9a-fA-F:]+\]):(\d{1,5})", text.strip())
    if found is None or not 0 < int(found.group(2)) <= MAX_PORT:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the Temporal frontend as host:port, e.g. localhost:7233")
    return text.strip()


def _run_id(text: str) -> str:
    """A run's workflow id: an empty one names no run (the API could only say "Not
    Found")."""
    given = text.strip()
    if not given:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a run's workflow id: `orchestrator runs` lists them")
    return given


async def _up(args: argparse.Namespace) -> int:
    from worker.main import serve

    await serve(_settings(args))
    return 0


async def _api(args: argparse.Namespace) -> int:
    from worker.main import serve_api

    await serve_api(_settings(args))
    return 0


async def _worker(args: argparse.Namespace) -> int:
    from worker.main import run_worker

    await run_worker(_settings(args))
    return 0


async def _chat(args: argparse.Namespace) -> int:
    from orchestrator.chat_client import follow

    return await follow(args.api, args.message, sys.stdout, args.conversation,
                        api_option(args.api), require_approval=args.require_approval)


async def _watch(args: argparse.Namespace) -> int:
    from orchestrator.chat_client import watch

    return await watch(args.api, args.workflow_id, sys.stdout, api_option(args.api))


async def _runs(args: argparse.Namespace) -> int:
    from orchestrator.api_client import list_runs

    return await list_runs(args.api, sys.stdout, {"status": args.status, "tenant": args.tenant},
                           args.limit, args.page, api_option(args.api))


async def _graph(args: argparse.Namespace) -> int:
    from orchestrator.graph_client import show_graph

    return await show_graph(args.api, sys.stdout, args.kind, args.name, args.limit, args.offset,
                            api_option(args.api))


async def _plan(args: argparse.Namespace) -> int:
    from orchestrator.chat_client import dry_run

    return await dry_run(args.api, args.message, sys.stdout)


async def _control(args: argparse.Namespace) -> int:
    from orchestrator.chat_client import control

    return await control(args.api, args.workflow_id, args.action, sys.stdout,
                         step=getattr(args, "step", None), reason=getattr(args, "reason", ""),
                         by=getattr(args, "by", ""))


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name for this uid (some containers)
        return ""


async def _temporal(address: str | None) -> Client:
    from worker.client import connect

    settings = Settings()
    if address is not None:
        settings = settings.model_copy(update={"temporal_address": address})
    return await connect(settings, wait_s=5)


async def _replay(args: argparse.Namespace) -> int:
    from worker.replay import fetch, load, replay

    if args.file is not None:
        history = load(args.file)
    else:
        history = await fetch(await _temporal(args.address), args.workflow_id)
    report = await replay(history)
    print(report.describe())
    return 0 if report.ok else 1


async def _history(args: argparse.Namespace) -> int:
    from worker.replay import fetch

    history = await fetch(await _temporal(args.address), args.workflow_id)
    try:
        args.out.write_text(history.to_json())
    except OSError as err:
        raise InvalidInput(f"cannot write the history file {args.out}: {err.strerror}") from err
    print(f"saved {args.workflow_id} ({len(list(history.events))} events) to {args.out}")
    return 0


async def _demo(args: argparse.Namespace) -> int:
    from orchestrator.chat_client import follow
    from worker.main import serve

    settings = _settings(args)
    outcome: list[int] = []
    # The run's steps are printed as they finish: a log line of its end would only
    # break into them (one that did not complete is still told).
    logging.getLogger("temporalio.workflow").setLevel(logging.WARNING)

    async def ready(settings: Settings, _client: object) -> None:
        api = f"http://{settings.api_host}:{settings.api_port}"
        outcome.append(await follow(api, args.message, sys.stdout, api_option=api_option(api),
                                    follow_up_hint=not args.exit))
        if args.exit:
            raise _Done
        print(f"\nStill running: API {api}, Temporal Web UI {settings.ui_url}. Ctrl-C stops.")

    with contextlib.suppress(_Done):
        await serve(settings, ready)
    return outcome[0] if outcome else 1


class _Done(Exception):
    """Ends the demo once its run is over."""


def run() -> None:
    """The `orchestrator` command: `main`, then out without the interpreter's
    teardown. There the Temporal client's Rust threads can abort the process
    ("Fatal Python error: PyGILState_Release ... finalizing", temporalio/sdk-python
    issue 300): after a failed connect, 2 runs in 4 here. Every command has closed
    what it opened by the time `main` returns."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
