"""Builds the core objects once per process from settings."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client
from temporalio.worker import Worker

from activities.graph import GraphActivities
from activities.planning import PlanningActivities
from activities.steps import StepActivities
from orchestrator.agents.base import AgentRunner
from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.agents.platform import PlatformAgents
from orchestrator.agents.registry import AgentRegistry
from orchestrator.graph.factory import open_store
from orchestrator.graph.mirror import WriteBehindMirror
from orchestrator.graph.store import GraphStore
from orchestrator.planning.offline import OfflinePlanner
from orchestrator.settings import Settings
from workflows.orchestration import OrchestrationWorkflow


@dataclass
class Runtime:
    settings: Settings
    store: GraphStore
    registry: AgentRegistry
    agents: AgentRunner
    mirror: WriteBehindMirror

    async def close(self) -> None:
        await self.mirror.close()
        await self.store.close()


async def build_runtime(settings: Settings) -> Runtime:
    store = await open_store(settings)
    registry = AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)
    registry.mark("sensitive", settings.sensitive_capabilities)
    registry.mark("optional", settings.optional_capabilities)
    await store.register_catalogue(registry.capabilities, registry.agents)
    agents = PlatformAgents(store, settings.agent_faults)
    return Runtime(
        settings=settings, store=store, registry=registry, agents=agents,
        mirror=WriteBehindMirror(store),
    )


def build_worker(client: Client, runtime: Runtime, task_queue: str | None = None) -> Worker:
    planner = OfflinePlanner(runtime.registry, runtime.store)
    planning = PlanningActivities(planner, runtime.registry, runtime.mirror)
    steps = StepActivities(runtime.agents, runtime.mirror)
    graph = GraphActivities(runtime.store)
    return Worker(
        client,
        task_queue=task_queue or runtime.settings.task_queue,
        workflows=[OrchestrationWorkflow],
        activities=[planning.plan_request, steps.run_agent_step, graph.record_run],
    )
