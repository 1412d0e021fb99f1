"""A run ended from outside its workflow code (terminated, timed out) is mirrored
as ended in the graph by the worker's sweep; runs still going, or that ended by
their own code, are left as they are."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer
from orchestrator.models import StepStatus
from tests.integration.stack import graph_shows, result_of, running_stack, start, wait_until
from worker.settle import settle_ended_runs, settling

SLOW = Fault(delay_ms=60_000, when={"name": "slow"})


async def test_a_run_terminated_from_outside_is_mirrored_as_ended(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    faults = {"application.create": SLOW}
    async with running_stack(client, temporal_server.address, tmp_path, agent_faults=faults) as s:
        store = s.runtime.store
        done = await start(s.http, "create application quick")
        await result_of(client, done)
        stuck, going = [await start(s.http, "create application slow") for _ in range(2)]
        for run in (stuck, going):
            await wait_until(s.http, run, lambda r: r.steps["create-application-slow"].status
                             == StepStatus.RUNNING)
            await graph_shows(store, run, "running")
        await client.get_workflow_handle(stuck).terminate(reason="stuck on a slow step")

        assert await settle_ended_runs(client, store) == [stuck]
        ended = await store.run_graph(stuck)
        assert ended.status == "failed"
        assert ended.error == ("the run was terminated from outside (Temporal): its steps "
                               "stopped where they were and nothing was rolled back")
        # Its plan and steps stay as they were.
        assert ended.steps["create-application-slow"]["status"] == "running"
        assert (await store.run_graph(going)).status == "running"
        assert (await store.run_graph(done)).status == "completed"
        assert await settle_ended_runs(client, store) == []
        view = (await s.http.get(f"/v1/graph/workflows/{stuck}")).json()
        assert view["status"] == "failed" and view["error"] == ended.error
        # The run's own view does not show the step still running either.
        told = (await s.http.get(f"/v1/workflows/{stuck}")).json()
        assert told["steps"]["create-application-slow"]["status"] == "cancelled", told

        # The worker's sweep settles the next one without being asked.
        await client.get_workflow_handle(going).terminate()
        async with settling(client, store, every_s=0.1):
            await graph_shows(store, going, "failed")
