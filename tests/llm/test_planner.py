"""The LLM planner against a scripted model: the model reads, the synthesiser orders."""

from __future__ import annotations

import json

import pytest

from orchestrator.errors import CannotPlan
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.planning.llm.answer import EntityMention, PlanningAnswer, RequestedAction
from orchestrator.planning.llm.errors import UnreadableAnswer
from tests.integration.stack import S1
from tests.llm.fake_openai import FakeOpenAi, completion
from tests.llm.support import (
    S1_ACTIONS,
    S1_ANSWER,
    S1_SHAPE,
    action,
    answer,
    llm_planner,
    shape,
    with_actions,
)
from tests.platform_world import deployed
from workflows.dag import stages


async def test_plan_s1_from_a_good_answer(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    fake_openai.script = [answer(S1_ANSWER)]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan(S1)
    assert plan.planner == "llm" and plan.fallback_reason is None
    assert shape(plan) == S1_SHAPE
    assert stages(plan.steps) == [
        ["create-application-ecommerce", "ensure-environment-production"],
        ["create-service-payment"],
        ["create-deployment-ecommerce-production"],
        ["apply-policy-monitoring", "apply-policy-security"],
    ]
    [request] = fake_openai.requests
    body = request.body
    assert body["model"] == "test-model" and body["temperature"] == 0.0
    schema = body["response_format"]
    assert schema["type"] == "json_schema" and schema["json_schema"]["strict"] is True
    assert schema["json_schema"]["name"] == "PlanningAnswer"
    assert request.messages[-1]["content"].endswith(f"Request:\n{S1}")


# Each answer is wrong in one way the checks or the synthesiser catch; the problem
# told to the model names it.
@pytest.mark.parametrize(("wrong", "told"), [
    (action("create", "database", "orders"), "no capability produces the kind 'database'"),
    (action("delete", "application", "ecommerce"),
     "no capability 'delete' produces the kind application; those that do: application.create"),
    (action("create", "service", "payment"), "I need to know its application"),
    (action("create", "application", "Ecommerce Shop"), "'Ecommerce Shop' is not a valid name"),
    (action("create", "service", "billing", application="ecommerce"),
     "name 'billing' is not in the request ('billing' is not a word of it)"),
])
async def test_plan_repairs_an_answer_that_cannot_be_planned(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore, wrong: RequestedAction, told: str
) -> None:
    fake_openai.script = [answer(with_actions(*S1_ACTIONS, wrong)), answer(S1_ANSWER)]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan(S1)
    assert plan.planner == "llm" and plan.fallback_reason is None
    assert shape(plan) == S1_SHAPE
    first, repair = fake_openai.requests
    assert repair.messages[: len(first.messages)] == first.messages
    echoed, problems = repair.messages[len(first.messages):]
    assert echoed["role"] == "assistant"
    assert PlanningAnswer.model_validate_json(echoed["content"]).actions[-1] == wrong
    assert problems["role"] == "user" and told in problems["content"]


async def test_a_deploy_said_as_the_request_says_it_needs_no_repair(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    """"deploy" is how a deployment is asked for (the rules read it so): a model
    answering with it is not sent back for "create"."""
    said = [a.model_copy(update={"verb": "deploy"}) if a.kind == "deployment" else a
            for a in S1_ACTIONS]
    fake_openai.script = [answer(with_actions(*said))]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan(S1)
    assert plan.planner == "llm" and len(fake_openai.requests) == 1
    [deploy] = [s for s in plan.steps if s.capability == "deployment.create"]
    assert deploy.id == "deploy-deployment-ecommerce-production"


async def test_an_answer_to_another_request_is_not_planned(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    """A model answering another request (a cached or mixed-up answer) names what
    this one never mentions: told so, then the rules plan the request itself."""
    fake_openai.script = [answer(S1_ANSWER), answer(S1_ANSWER)]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan("create application shop with cart service")
    assert plan.planner == "offline" and plan.fallback_reason is not None
    assert "name 'ecommerce' is not in the request" in plan.fallback_reason
    assert shape(plan) == {"create-application-shop": [],
                           "create-service-cart": ["create-application-shop"]}


async def test_an_entity_the_answer_refers_to_does_not_make_its_name_the_requests(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    """Listed among the answer's references (it exists), "blog" is still not in
    "create application lambda": deploying it is not what was asked."""
    await deployed(store, "blog", "staging")
    other = with_actions(
        action("create", "application", "lambda"),
        action("create", "deployment", "blog-production", application="blog",
               environment="production"),
        references=[EntityMention(kind="application", name="blog")])
    fake_openai.script = [answer(other), answer(other)]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan("create application lambda")
    assert plan.planner == "offline" and "'blog' is not a word of it" in (
        plan.fallback_reason or "")
    assert shape(plan) == {"create-application-lambda": []}


async def test_names_joining_the_requests_words_and_known_aliases_are_planned(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    deploy = action("create", "deployment", "shop-production", application="shop",
                    environment="production")
    fake_openai.script = [answer(with_actions(action("create", "application", "shop"),
                                              deploy))]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan("create application shop and deploy it to prod")
    assert plan.planner == "llm" and plan.fallback_reason is None


async def test_plan_repairs_a_reference_to_an_entity_that_does_not_exist(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    ghost = with_actions(*S1_ACTIONS, references=[EntityMention(kind="application", name="ghost")])
    fake_openai.script = [answer(ghost), answer(S1_ANSWER)]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan(S1)
    assert plan.planner == "llm"
    assert "reference application ghost does not exist" in json.dumps(
        fake_openai.requests[1].messages[-1])


async def test_plan_falls_back_to_offline_after_garbage_twice(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    fake_openai.script = [completion("I think you should deploy it."), completion("{")]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan(S1)
    assert plan.planner == "offline"
    assert plan.fallback_reason is not None
    assert "could not be read 2 times" in plan.fallback_reason
    assert "Invalid JSON" in plan.fallback_reason
    # The rules' plan of S1: the same order, the deployment step named by its verb.
    assert len(plan.steps) == 6 and "deploy-deployment-ecommerce-production" in shape(plan)
    first, second = fake_openai.requests
    assert "could not be read: answer: Invalid JSON" in second.messages[-1]["content"]
    assert second.messages[:-1] == first.messages


async def test_plan_reads_again_after_one_unreadable_answer(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    fake_openai.script = [completion('{"actions": "all of them"}'), answer(S1_ANSWER)]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan(S1)
    assert plan.planner == "llm" and shape(plan) == S1_SHAPE
    assert "actions: Input should be a valid array" in (
        fake_openai.requests[1].messages[-1]["content"])


async def test_plan_reads_again_after_an_answer_cut_off_at_the_length_limit(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    cut = completion('{"actions": [{"verb": "cre', finish_reason="length")
    fake_openai.script = [cut, answer(S1_ANSWER)]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan(S1)
    assert plan.planner == "llm" and shape(plan) == S1_SHAPE
    assert "length limit was reached" in fake_openai.requests[1].messages[-1]["content"]


async def test_plan_falls_back_to_offline_when_the_repair_fails_too(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    wrong = answer(with_actions(action("create", "database", "orders")))
    fake_openai.script = [wrong, wrong]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan(S1.replace("payment", "orders"))
    assert plan.planner == "offline"
    assert plan.fallback_reason == (
        "the model's answer could not be planned, even after a repair round: "
        "action 1 (create database orders): no capability produces the kind 'database'"
    )
    assert len(fake_openai.requests) == 2


async def test_plan_stays_retryable_when_the_rules_cannot_stand_in(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    fake_openai.script = [completion("no"), completion("still no")]
    async with llm_planner(fake_openai, store) as planner:
        with pytest.raises(UnreadableAnswer) as caught:
            await planner.plan("spin up a shop for my cat, with all the trimmings")
    assert caught.value.retryable


async def test_plan_refuses_what_the_model_did_not_understand(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    half = PlanningAnswer(actions=[action("create", "application", "shop")], references=[],
                          not_understood=["order a pizza"])
    fake_openai.script = [answer(half)]
    async with llm_planner(fake_openai, store) as planner:
        with pytest.raises(CannotPlan) as caught:
            await planner.plan("create application shop and order a pizza")
    # The rules could not read it whole either: both readers' reasons are told.
    assert "(and the model did not understand 'order a pizza')" in caught.value.reason
    assert caught.value.understood == ["create application shop"]
    assert caught.value.not_understood == ["order", "pizza"]
    assert not caught.value.retryable
    assert len(fake_openai.requests) == 1


async def test_what_the_model_did_not_understand_the_rules_may_plan(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    unsure = PlanningAnswer(actions=[action("create", "application", "shop")], references=[],
                            not_understood=["payment service"])
    fake_openai.script = [answer(unsure)]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan("create application shop with payment service")
    assert plan.planner == "offline"
    assert plan.fallback_reason == "the model did not understand 'payment service'"
    assert [s.id for s in plan.steps] == ["create-application-shop", "create-service-payment"]


async def test_a_chain_of_links_is_read_by_the_rules_without_asking_the_model(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan("create application shop -> create service payment "
                                  "for application shop")
    assert plan.planner == "offline" and plan.fallback_reason is None
    assert len(plan.steps) == 2
    assert fake_openai.requests == []
