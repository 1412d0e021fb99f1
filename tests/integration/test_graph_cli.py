"""`orchestrator graph`, and a question sent as a request, answered with where to look."""

from __future__ import annotations

import os
from pathlib import Path

from temporalio.client import Client

from orchestrator.devserver import DevServer, free_port
from orchestrator.models import RunStatus
from tests.command_line import run_cli
from tests.integration.stack import run_waited, running_stack, served


async def test_the_graph_is_read_from_the_command_line(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    env = dict(os.environ)
    async with running_stack(client, temporal_server.address, tmp_path) as s, served(
        s, free_port()
    ) as api:
        made = await run_waited(s, "create application shop with payment service, "
                                   "deploy it to staging")
        assert made.status == RunStatus.COMPLETED, made.problem
        one = await run_cli("graph", "application", "shop", "--api", api, env=env)
        kind = await run_cli("graph", "service", "--api", api, env=env)
        everything = await run_cli("graph", "--api", api, env=env)
        first = await run_cli("graph", "--limit", "2", "--api", api, env=env)
        second = await run_cli("graph", "--limit", "2", "--offset", "2", "--api", api, env=env)
        too_many = await run_cli("graph", "--limit", "501", "--api", api, env=env)
        missing = await run_cli("graph", "service", "nope", "--api", api, env=env)
        unknown = await run_cli("graph", "servic", "--api", api, env=env)
        asked = await s.http.post("/v3/ai/chat",
                                  json={"message": "which services does shop have?"})

    code, out = one
    assert code == 0, out
    assert out.startswith("application shop\n  made by run-"), out
    assert "\n  application shop -owns-> service payment\n" in out, out
    assert "\n  application shop -deployed_to-> environment staging\n" in out, out
    code, out = kind
    assert code == 0 and out.startswith("service payment  (made by run-"), out
    assert out.rstrip().endswith("/create-service-payment)") and out.count("\n") == 1, out
    code, out = everything
    assert code == 0, out
    listed = [line.split("  ")[0] for line in out.splitlines()]
    assert {"application shop", "service payment", "environment staging",
            "deployment shop-staging"} <= set(listed), out
    # A page at a time, saying how to ask for the next.
    code, out = first
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3, out
    assert lines[:2] == everything[1].splitlines()[:2], out
    assert lines[2] == f"more: orchestrator graph --offset 2 --limit 2 --api {api}", out
    code, out = second
    assert code == 0 and out.splitlines()[:2] == everything[1].splitlines()[2:4], out
    code, out = too_many
    assert code == 2 and out.startswith("Refused (422): limit: "), out
    assert missing == (1, "Refused (404): no service 'nope'\n")
    code, out = unknown
    assert code == 2 and out.startswith("Refused (422): no kind 'servic': the kinds are "), out
    # A question plans nothing: it is told where the graph answers it.
    assert asked.status_code == 422, asked.text
    told = asked.json()["detail"]
    assert "a question, not something to do" in told, told
    assert "`orchestrator graph application shop`" in told, told
    # Told as a question: it asks nothing back, so there is no conversation to go on.
    assert asked.json()["problem"]["kind"] == "question", asked.text
    assert "conversation_id" not in asked.json(), asked.text
