"""`orchestrator up` and `orchestrator chat` as a user runs them, in subprocesses."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from orchestrator.devserver import DevServer, free_port
from tests.command_line import run_cli, start_up, until_healthy
from tests.integration.stack import S1

MONITORING = "apply-policy-monitoring"


async def _until_ended(api: str, workflow_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api) as http, asyncio.timeout(30):
        while True:
            state: dict[str, Any] = (await http.get(f"/v1/workflows/{workflow_id}")).json()
            if state["finished_at"]:
                return state
            await asyncio.sleep(0.2)


async def test_up_serves_and_chat_follows_a_run(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    port, metrics = free_port(), free_port()
    env = {
        **os.environ,
        "ORCHESTRATOR_METRICS_PORT": str(metrics),
        "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address,
        "ORCHESTRATOR_TASK_QUEUE": f"cli-{uuid.uuid4()}",
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
        "ORCHESTRATOR_SENSITIVE_CAPABILITIES": '["policy.apply"]',
        "ORCHESTRATOR_AGENT_FAULTS": json.dumps({"service.create": {
            "fail_attempts": 99, "non_retryable": True, "when": {"name": "broken"}}}),
    }
    log = tmp_path / "up.log"
    up = await start_up(env, log, port)
    api = f"http://127.0.0.1:{port}"
    try:
        health = await until_healthy(api)
        assert health.json()["status"] == "ok"

        code, out = await run_cli(
            "chat", "create application Shop with payment service", "--api", api, env=env
        )
        assert code == 0, out
        assert "Plan: 2 steps" in out
        assert "Note: 'Shop' is named 'shop': names are lowercase\n" in out, out
        assert "✓ create-service-payment: completed" in out
        assert "Outcome: completed" in out
        assert "Temporal Web UI: http://localhost:8233/namespaces/default/workflows/run-" in out
        shop = out.split("Run ", 1)[1].split()[0]
        # The command it suggests reaches the same API.
        assert f"Follow up: orchestrator chat --api {api} --continue {shop} " in out

        # A run already started is followed again by its id.
        code, out = await run_cli("watch", shop, "--api", api, env=env)
        assert code == 0 and out.startswith(f"Run {shop}: completed\nPlan: 2 steps"), out
        assert "✓ create-service-payment: completed" in out and "Outcome: completed" in out
        code, out = await run_cli("watch", "run-nope", "--api", api, env=env)
        assert code == 2 and "no workflow 'run-nope'" in out, out

        # The shop's run has ended: the follow-up is a new run, for the shop.
        code, out = await run_cli("chat", "--continue", shop, "also add a cache service",
                                  "--api", api, env=env)
        assert code == 0, out
        assert f"Follows run {shop}, which had ended" in out
        assert "Plan: 1 step (read by the rules)\n" in out, out
        assert "✓ create-service-cache: completed" in out

        # A step that fails for good: told in one line in the log, not a traceback.
        code, out = await run_cli("chat", "create application lab with broken service",
                                  "--api", api, env=env)
        assert code == 1 and "Outcome: rolled_back" in out, out

        code, out = await run_cli("chat", "make me a sandwich", "--api", api, env=env)
        assert code == 2
        assert "Refused: cannot plan" in out and "sandwich" in out
        assert f"\nAnswer or say more: orchestrator chat --api {api} --continue run-" in out
        # A question is told where its answer is, and asks nothing back.
        code, out = await run_cli("chat", "what is deployed to production?", "--api", api,
                                  env=env)
        assert code == 2 and "a question, not something to do" in out, out
        assert "Answer or say more" not in out, out
        # Refused after planning: the reasons are listed, not only that it was.
        services = ", ".join(f"s{i}" for i in range(10))
        code, out = await run_cli("chat", f"create application big with {services} services",
                                  "--api", api, env=env)
        assert code == 2
        assert "Refused: the plan is not valid\n  - the plan runs 10 steps at once" in out, out
        assert "The plan refused (11 steps):\n  create-application-big: application.create\n" \
            "  create-service-s0: service.create (after create-application-big)\n" in out, out

        code, out = await run_cli("chat", "", "--api", api, env=env)
        assert code == 2
        assert "Refused (422): message: String should have at least 1 character" in out, out

        code, out = await run_cli("plan", S1, "--api", api, env=env)
        assert code == 0, out
        assert "1. create-application-ecommerce, ensure-environment-production" in out
        # What each step will be given, an earlier step's output by its name.
        assert ("  - create-service-payment: service.create by service-agent  (after "
                "create-application-ecommerce)\n"
                "      application=<create-application-ecommerce.application>, name=payment\n"
                ) in out, out
        assert "Nothing was run" in out and "flowchart TD" in out

        async with httpx.AsyncClient(base_url=api) as http:
            started = await http.post("/v3/ai/chat", json={"message": S1})
            wf = started.json()["workflow_id"]
            async with asyncio.timeout(30):
                while True:  # polling a remote run: there is no local event to wait on
                    if len((await http.get(f"/v1/workflows/{wf}")).json()["approvals"]) == 2:
                        break
                    await asyncio.sleep(0.2)
        code, out = await run_cli("approve", wf, "--step", MONITORING, "--api", api, env=env)
        assert code == 0 and f"approved {MONITORING}: run {wf} goes on" in out, out
        async with httpx.AsyncClient(base_url=api) as http:
            approvals = (await http.get(f"/v1/workflows/{wf}")).json()["approvals"]
        assert approvals[MONITORING]["by"] == getpass.getuser()
        code, out = await run_cli("approve", wf, "--step", MONITORING, "--api", api, env=env)
        assert code == 2 and "already answered" in out, out
        code, out = await run_cli("reject", wf, "--reason", "no", "--api", api, env=env)
        assert code == 0 and f": run {wf} stops and undoes what it did" in out, out
        await _until_ended(api, wf)

        # Listed, the last run to end first (visibility lags a moment), with the
        # command for the next page: the lab's run rolled back too.
        async with asyncio.timeout(20):
            while True:
                code, out = await run_cli("runs", "--status", "rolled_back", "--limit", "1",
                                          "--api", api, env=env)
                if code != 0 or out.startswith(wf):
                    break
                await asyncio.sleep(0.2)
        assert code == 0 and out.startswith(f"{wf}  rolled_back  "), out
        assert ("\nmore: orchestrator runs --page " in out
                and f" --limit 1 --status rolled_back --api {api}\n" in out), out
        code, out = await run_cli("runs", "--status", "done", "--api", api, env=env)
        assert code == 2 and out.startswith("Refused (422): status: Input should be"), out

        code, out = await run_cli("history", wf, "--out", str(tmp_path / "h.json"), env=env)
        assert code == 0 and "saved" in out, out
        code, out = await run_cli("replay", "--file", str(tmp_path / "h.json"), env=env)
        assert code == 0 and out.startswith(f"OK: {wf} replays ("), out
        code, out = await run_cli("replay", wf, env=env)
        assert code == 0 and out.startswith("OK"), out
        # A server the settings do not name, given on the command line.
        unset = {k: v for k, v in env.items() if k != "ORCHESTRATOR_TEMPORAL_ADDRESS"}
        code, out = await run_cli("replay", wf, "--address", temporal_server.address, env=unset)
        assert code == 0 and out.startswith("OK"), out

        # Wrong ids and files: one line naming what is wrong, no traceback.
        (tmp_path / "not-a-history.json").write_text('{"x": 1}')
        for args, says in [
            (("replay", "no-such-run"), "no workflow 'no-such-run' on the Temporal server"),
            (("history", "no-such-run", "--out", str(tmp_path / "x.json")),
             "no workflow 'no-such-run'"),
            (("history", wf, "--out", str(tmp_path / "no-dir" / "h.json")),
             "cannot write the history file"),
            (("replay", "--file", str(tmp_path / "missing.json")),
             "cannot read the history file"),
            (("replay", "--file", str(tmp_path / "not-a-history.json")),
             "is not a workflow history saved as JSON"),
        ]:
            code, out = await run_cli(*args, env=env)
            assert code == 1 and says in out and "Traceback" not in out, (args, out)

        # A plan that waits for a person, asked from the command line and answered there.
        chat = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orchestrator.cli", "chat", "create application gated",
            "--require-approval", "--api", api, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        assert chat.stdout is not None
        lines: list[str] = []
        async with asyncio.timeout(30):
            while not lines or not lines[-1].startswith("? plan waits for approval"):
                line = (await chat.stdout.readline()).decode()
                assert line, f"chat ended without waiting for an approval: {lines}"
                lines.append(line)
        gated = lines[0].split()[1]
        code, out = await run_cli("approve", gated, "--api", api, env=env)
        assert code == 0, out
        rest, _ = await asyncio.wait_for(chat.communicate(), timeout=30)
        assert chat.returncode == 0 and "Outcome: completed" in rest.decode(), rest

        async with httpx.AsyncClient(base_url=api) as http:
            started = await http.post(
                "/v3/ai/chat", json={"message": S1, "require_approval": True}
            )
            wf = started.json()["workflow_id"]
        code, out = await run_cli("cancel", wf, "--api", api, env=env)
        assert code == 0 and f"run {wf} is stopping" in out, out
        assert (await _until_ended(api, wf))["status"] == "cancelled"

        # Runs by how they ended and step tries by capability, beside Temporal's own.
        async with httpx.AsyncClient() as http:
            scraped = (await http.get(f"http://127.0.0.1:{metrics}/metrics")).text
        counts = _metrics(scraped)
        assert counts[("orchestrator_runs", "completed")] >= 3, scraped
        assert counts[("orchestrator_runs", "rolled_back")] == 2, scraped
        assert counts[("orchestrator_runs", "cancelled")] == 1, scraped
        # Refused requests are failed runs, told apart by their problem.
        assert counts[("orchestrator_runs", "failed", "cannot_plan")] == 1, scraped
        assert counts[("orchestrator_runs", "failed", "invalid_plan")] == 1, scraped
        assert counts[("orchestrator_steps", "service.create", "failed", "false")] == 1, scraped
        assert counts[("orchestrator_steps", "service.create", "completed", "false")] >= 3
        assert counts[("orchestrator_steps", "application.delete", "completed", "true")] >= 1
        assert 'orchestrator_step_duration_bucket{' in scraped and 'le="5"}' in scraped
        assert "temporal_activity_execution_latency_count{" in scraped
    finally:
        up.send_signal(signal.SIGINT)
        await asyncio.wait_for(up.wait(), timeout=20)
    # A request it cannot plan, a rejection, a cancellation: answers, not faults
    # for whoever watches the terminal.
    assert "Traceback" not in log.read_text(), log.read_text()
    assert "step create-service-broken of run-" in log.read_text()
    assert "failed (attempt 1, not retryable): injected" in log.read_text(), log.read_text()
    assert f"metrics on http://127.0.0.1:{metrics}/metrics" in log.read_text()


def _metrics(text: str) -> dict[tuple[str, ...], float]:
    """Counter values by (name, status) and (name, status, problem) for runs, (name,
    capability, outcome, undo) for steps, summed over the other labels."""
    counts: dict[tuple[str, ...], float] = {}
    for line in text.splitlines():
        name, _, rest = line.partition("{")
        if name not in ("orchestrator_runs", "orchestrator_steps"):
            continue
        labels_text, _, value = rest.rpartition("} ")
        labels = dict(part.split("=", 1) for part in labels_text.split(","))
        labels = {key: label.strip('"') for key, label in labels.items()}
        keys = ([(name, labels["status"]), (name, labels["status"], labels["problem"])]
                if name == "orchestrator_runs" else
                [(name, labels["capability"], labels["outcome"], labels["undo"])])
        for key in keys:
            counts[key] = counts.get(key, 0) + float(value)
    return counts
