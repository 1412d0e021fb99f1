"""A follow-up planned by the model: the conversation's entities are in the catalogue,
and what the model leaves out of the follow-up comes from them, as offline."""

from __future__ import annotations

import json
import re

from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import EntityRef
from tests.llm.fake_openai import FakeOpenAi
from tests.llm.support import action, answer, llm_planner, with_actions

CONVERSATION = [EntityRef(kind="application", name="ecommerce"),
                EntityRef(kind="service", name="payment")]


async def test_followup_sends_the_conversation_and_fills_the_application(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    # The model names the service and leaves its application out, as the user did.
    fake_openai.script = [answer(with_actions(action("create", "service", "cache")))]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan("also add a cache service", CONVERSATION,
                                  making=[CONVERSATION[0]])
    assert plan.planner == "llm"
    assert [(s.capability, s.parameters) for s in plan.steps] == [
        ("service.create", {"application": "ecommerce", "name": "cache"})
    ]
    [request] = fake_openai.requests
    system, user = request.messages
    assert "conversation_entities" in system["content"]
    fenced = re.search(r"```json\n(.*)\n```", user["content"], re.S)
    assert fenced is not None
    assert json.loads(fenced.group(1))["conversation_entities"] == [
        {"kind": "application", "name": "ecommerce"}, {"kind": "service", "name": "payment"}
    ]


async def test_first_request_sends_no_conversation(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    fake_openai.script = [answer(with_actions(action("create", "application", "shop")))]
    async with llm_planner(fake_openai, store) as planner:
        await planner.plan("create application shop")
    [request] = fake_openai.requests
    assert "conversation_entities" not in request.messages[1]["content"]
