"""`orchestrator rollback`, `chat` and `watch` as a user runs them, in processes of
their own, against a run whose rollback is left incomplete and then finished."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from temporalio.client import Client

from orchestrator.chat_client import POLL_S
from orchestrator.devserver import DevServer, free_port
from tests.command_line import run_cli
from tests.integration.stack import S1, running_stack, served
from tests.integration.test_rollback import APP, SVC
from tests.integration.test_rollback_retry import UNDO_BROKEN

INCOMPLETE = "? step deploy-deployment-ecommerce-production failed"


async def test_the_command_line_finishes_an_incomplete_rollback(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    env = dict(os.environ)
    port = free_port()
    lines: list[str] = []
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=UNDO_BROKEN) as s, served(s, port) as api:
        queue = s.settings.task_queue
        chat = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orchestrator.cli", "chat", S1, "--api", api, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        assert chat.stdout is not None
        async with asyncio.timeout(30):
            while not lines or not lines[-1].startswith(INCOMPLETE):
                line = (await chat.stdout.readline()).decode()
                assert line, f"chat ended before the rollback was incomplete: {lines}"
                lines.append(line)
        wf = lines[0].split()[1]
        told = lines[-1]
        reading = asyncio.create_task(_read_all(chat.stdout, lines))
        # Polled again and again while it waits: said once, not on every poll.
        await asyncio.sleep(POLL_S * 5)
        waited = "".join(lines)
        code, still = await run_cli("rollback", wf, "--api", api, env=env)

    assert told.startswith(f"{INCOMPLETE}: injected failure in deployment.create")
    assert f"rollback incomplete: undo failed for {SVC}; " in told
    assert f"`orchestrator rollback {wf}`" in told
    # The cause fixed, tried again from the command line: the undo that failed is listed.
    assert code == 1, still
    assert still.startswith(f"‼ undo {SVC}: failed — injected failure in service.delete "
                            "(attempt 1)\n"), still
    assert f"\nrollback: run {wf} is still incomplete\nProblem: " in still, still

    # The cause fixed: the worker and the API back without the fault, where they were;
    # the chat waited for the API meanwhile.
    async with running_stack(client, temporal_server.address, tmp_path,
                             task_queue=queue) as s, served(s, port) as api:
        code, done = await run_cli("rollback", wf, "--api", api, env=env)
        await asyncio.wait_for(asyncio.gather(reading, chat.wait()), timeout=30)
        code_late, late = await run_cli("rollback", wf, "--api", api, env=env)
        code_watched, watched = await run_cli("watch", wf, "--api", api, env=env)

    assert code == 0, done
    assert f"↺ undo {SVC}: completed\n" in done
    assert done.endswith(f"rollback: run {wf} is rolled_back\n"), done
    assert waited.count(INCOMPLETE) == 1, waited
    chatted = "".join(lines)
    # Once more after the first retry, if a poll saw the run rolling back meanwhile.
    assert chatted.count(INCOMPLETE) in (1, 2), chatted
    assert chat.returncode == 1 and "\nOutcome: rolled_back\n" in chatted, chatted
    # The application's undo, run again once the service's had worked, is told again.
    held = chatted.index(f"↺ {APP}: compensated — left in place: step ")
    assert chatted.index(f"↺ {APP}: compensated — nothing left to remove\n") > held, chatted
    assert code_late == 2, late
    assert late == (f"Refused (409): run {wf} has ended: nothing waits for its rollback "
                    "to be tried again\n")
    # The run as it ended: the application is gone, not held by the service's step.
    assert code_watched == 1 and "\nOutcome: rolled_back\n" in watched, watched
    assert f"↺ {APP}: compensated — nothing left to remove\n" in watched, watched
    assert "still holds it" not in watched, watched


async def _read_all(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while line := (await stream.readline()).decode():
        lines.append(line)
