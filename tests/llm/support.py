"""What the LLM planner tests share: settings pointing at the fake server, S1 answers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.agents.registry import AgentRegistry
from orchestrator.graph.store import GraphStore
from orchestrator.models import Plan
from orchestrator.planning.llm.answer import (
    EntityMention,
    PlanningAnswer,
    Qualifier,
    RequestedAction,
)
from orchestrator.planning.llm.planner import LlmPlanner
from orchestrator.settings import Settings
from tests.llm.fake_openai import FakeOpenAi, Reply, completion

KEY = "sk-test-a1b2c3-never-in-a-body"
REGISTRY = AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)


def llm_settings(fake: FakeOpenAi, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "openai_base_url": fake.url, "openai_api_key": KEY, "openai_timeout_s": 5.0,
        "openai_model": "test-model", **overrides,
    }
    return Settings(**options)


@contextlib.asynccontextmanager
async def llm_planner(
    fake: FakeOpenAi, store: GraphStore, registry: AgentRegistry = REGISTRY, **overrides: Any
) -> AsyncIterator[LlmPlanner]:
    planner = LlmPlanner.from_settings(llm_settings(fake, **overrides), registry, store)
    try:
        yield planner
    finally:
        await planner.close()


def action(verb: str, kind: str, name: str, **qualifiers: str) -> RequestedAction:
    return RequestedAction(verb=verb, kind=kind, name=name, qualifiers=[
        Qualifier(key=k, value=v) for k, v in qualifiers.items()
    ])


S1_ACTIONS = [
    action("create", "application", "ecommerce"),
    action("create", "service", "payment", application="ecommerce"),
    action("create", "deployment", "ecommerce-production",
           application="ecommerce", environment="production"),
    action("apply", "policy", "monitoring", deployment="ecommerce-production"),
    action("apply", "policy", "security", deployment="ecommerce-production"),
]
S1_ANSWER = PlanningAnswer(actions=S1_ACTIONS, references=[], not_understood=[])
# The order the synthesiser derives for S1: the environment is inserted, not asked for.
S1_SHAPE = {
    "create-application-ecommerce": [],
    "create-service-payment": ["create-application-ecommerce"],
    "ensure-environment-production": [],
    "create-deployment-ecommerce-production": [
        "create-application-ecommerce", "create-service-payment", "ensure-environment-production"
    ],
    "apply-policy-monitoring": ["create-deployment-ecommerce-production"],
    "apply-policy-security": ["create-deployment-ecommerce-production"],
}


def answer(value: PlanningAnswer) -> Reply:
    return completion(value.model_dump_json())


def with_actions(*actions: RequestedAction, references: list[EntityMention] | None = None
                 ) -> PlanningAnswer:
    return PlanningAnswer(actions=list(actions), references=references or [], not_understood=[])


def shape(plan: Plan) -> dict[str, list[str]]:
    return {s.id: s.depends_on for s in plan.steps}
