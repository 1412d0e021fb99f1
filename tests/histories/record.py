"""Records golden histories: `python -m tests.histories.record` after a deliberate,
patched change to the workflow (old histories must still replay)."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path

from orchestrator.devserver import DevServer, free_port
from orchestrator.models import OrchestrationRequest
from orchestrator.settings import Settings
from tests.integration.stack import S1
from worker.client import connect
from worker.runtime import build_runtime, build_worker
from workflows.orchestration import OrchestrationWorkflow

HERE = Path(__file__).parent
SCENARIOS = {"s1": S1}


async def record() -> None:
    server = DevServer(free_port())
    await server.start()
    try:
        settings = Settings(
            temporal_address=server.address, data_dir=Path(tempfile.mkdtemp()),
            task_queue=f"record-{uuid.uuid4()}",
        )
        client = await connect(settings)
        runtime = await build_runtime(settings)
        try:
            async with build_worker(client, runtime):
                for name, message in SCENARIOS.items():
                    handle = await client.start_workflow(
                        OrchestrationWorkflow.run, OrchestrationRequest(message=message),
                        id=f"golden-{name}", task_queue=settings.task_queue,
                    )
                    await handle.result()
                    history = await handle.fetch_history()
                    (HERE / f"{name}.json").write_text(history.to_json())
        finally:
            await runtime.close()
    finally:
        await server.stop()


if __name__ == "__main__":
    asyncio.run(record())
