"""What a deploy is of, read through the graph: the application that owns the service
named, "my application" when there is one; asked when several could be meant."""

from __future__ import annotations

import pytest

from orchestrator.errors import CannotPlan
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import EntityRef, Plan
from orchestrator.planning.answering import plan_message
from orchestrator.planning.offline import OfflinePlanner
from tests.platform_world import deployed
from tests.unit.test_planner import REGISTRY


def _deploys(plan: Plan) -> list[tuple[str, str]]:
    """(application, environment) of each deploy, made in the run or not."""
    found = []
    for step in plan.steps:
        if step.capability == "deployment.create":
            named = {e.kind: e.name for e in step.operates_on}
            found.append((named["application"], named["environment"]))
    return found


@pytest.mark.parametrize("request_text", [
    "deploy payment to staging",
    "deploy my payment service to staging",
    "deploy the payment service to staging",
    "deploy service payment to staging",
])
async def test_deploying_a_service_deploys_the_application_that_owns_it(
    store: EmbeddedGraphStore, request_text: str
) -> None:
    await deployed(store, "ecommerce", "production", ("payment",))
    plan = await OfflinePlanner(REGISTRY, store).plan(request_text)
    assert _deploys(plan) == [("ecommerce", "staging")]
    # Nothing made that was not asked for: no application "payment", no service.
    assert {s.capability for s in plan.steps} == {"environment.ensure", "deployment.create"}


async def test_a_service_of_several_applications_is_asked_about(
    store: EmbeddedGraphStore
) -> None:
    await deployed(store, "ecommerce", "production", ("payment",))
    await deployed(store, "shop", "production", ("payment",))
    with pytest.raises(CannotPlan) as refused:
        await OfflinePlanner(REGISTRY, store).plan("deploy my payment service to staging")
    assert "service payment belongs to applications ecommerce and shop: which one?" in (
        refused.value.reason)


async def test_a_service_made_by_the_same_request_deploys_its_application(
    store: EmbeddedGraphStore
) -> None:
    plan = await OfflinePlanner(REGISTRY, store).plan(
        "create application shop with cart service, then deploy the cart service to staging")
    assert _deploys(plan) == [("shop", "staging")]


async def test_my_application_is_the_one_the_graph_holds(store: EmbeddedGraphStore) -> None:
    await deployed(store, "ecommerce", "staging", ("payment",))
    plan = await OfflinePlanner(REGISTRY, store).plan("deploy my application to production")
    assert _deploys(plan) == [("ecommerce", "production")]
    await deployed(store, "blog", "staging")
    with pytest.raises(CannotPlan) as refused:
        await OfflinePlanner(REGISTRY, store).plan("deploy my app to production")
    assert "which application? blog or ecommerce" in refused.value.reason


async def test_a_redeploy_is_a_deploy(store: EmbeddedGraphStore) -> None:
    await deployed(store, "ecommerce", "staging")
    plan = await OfflinePlanner(REGISTRY, store).plan("redeploy ecommerce in staging")
    assert _deploys(plan) == [("ecommerce", "staging")]


async def test_a_name_the_graph_does_not_hold_is_made_as_asked(
    store: EmbeddedGraphStore
) -> None:
    plan = await OfflinePlanner(REGISTRY, store).plan("deploy shop to staging")
    assert _deploys(plan) == [("shop", "staging")]
    assert "create-application-shop" in {s.id for s in plan.steps}


async def test_a_policy_guards_the_deployment_the_service_was_read_as(
    store: EmbeddedGraphStore
) -> None:
    await deployed(store, "ecommerce", "production", ("payment",))
    plan = await OfflinePlanner(REGISTRY, store).plan(
        "deploy the payment service to staging with a monitoring policy")
    policy = next(s for s in plan.steps if s.capability == "policy.apply")
    assert policy.depends_on == ["deploy-deployment-ecommerce-staging"]
    assert {e.key for e in policy.operates_on} >= {"deployment:ecommerce-staging"}


async def test_of_several_owners_the_conversations_application_is_deployed(
    store: EmbeddedGraphStore
) -> None:
    """A follow-up in a conversation about shop, or "the shop one" answering the
    question (its entities join the context)."""
    await deployed(store, "ecommerce", "production", ("payment",))
    await deployed(store, "shop", "production", ("payment",))
    shop = [EntityRef(kind="application", name="shop")]
    plan = await OfflinePlanner(REGISTRY, store).plan(
        "deploy my payment service to staging", shop)
    assert _deploys(plan) == [("shop", "staging")]
    plan = await plan_message(OfflinePlanner(REGISTRY, store), store, "the shop one",
                              answering="deploy payment to staging")
    assert _deploys(plan) == [("shop", "staging")]


@pytest.mark.parametrize("answer", ["shop", "the shop one", "shop please", "for shop",
                                    "the shop application", "application shop"])
async def test_an_answer_picks_one_of_the_conversations_applications(
    store: EmbeddedGraphStore, answer: str
) -> None:
    """Both applications are the conversation's already: the answer narrows them
    to the one it names, rather than adding what is there and asking again."""
    await deployed(store, "blog", "production", ())
    await deployed(store, "shop", "production", ())
    both = [EntityRef(kind="application", name=n) for n in ("blog", "shop")]
    planner = OfflinePlanner(REGISTRY, store)
    with pytest.raises(CannotPlan, match="which application"):
        await planner.plan("also add a cache service", both)
    plan = await plan_message(planner, store, answer, answering="also add a cache service",
                              context=both)
    [step] = plan.steps
    assert (step.capability, step.parameters) == (
        "service.create", {"application": "shop", "name": "cache"})


async def test_a_redeploy_of_what_was_never_deployed_is_refused(store: EmbeddedGraphStore) -> None:
    """Deployed, "cart" would be made from nothing: a redeploy asks for one there is."""
    with pytest.raises(CannotPlan) as refused:
        await OfflinePlanner(REGISTRY, store).plan("redeploy cart in staging")
    assert refused.value.reason.startswith(
        "there is no deployment cart-staging to redeploy: deploy it first (deploy cart to "
        "staging)")


async def test_the_application_a_deployed_service_goes_with_may_be_said(
    store: EmbeddedGraphStore
) -> None:
    await deployed(store, "ecommerce", "production", ("payment",))
    await deployed(store, "shop", "production", ("payment",))
    plan = await OfflinePlanner(REGISTRY, store).plan(
        "deploy the payment service of shop to staging")
    assert _deploys(plan) == [("shop", "staging")]
    assert "service.create" not in {s.capability for s in plan.steps}


async def test_a_deploy_to_a_near_miss_of_an_environment_is_asked_about(
    store: EmbeddedGraphStore
) -> None:
    """"prodution" is most likely production; made, it would stay, misspelt."""
    planner = OfflinePlanner(REGISTRY, store)
    with pytest.raises(CannotPlan) as refused:
        await planner.plan("create application eps, deploy to prodution")
    assert refused.value.reason == (
        "there is no environment 'prodution': did you mean 'production'? (answer "
        "'production'; or, for a new one of that name: create environment prodution and "
        "deploy eps to prodution)")
    await deployed(store, "blog", "qa-east", ())
    with pytest.raises(CannotPlan, match="did you mean 'qa-east'"):
        await planner.plan("deploy blog to qa-eats")
    # Asked for, it is made; a name of its own is made as asked.
    asked = await planner.plan(
        "create environment prodution, create application eps, deploy to prodution")
    assert _deploys(asked) == [("eps", "prodution")]
    own = await planner.plan("create application eps, deploy to staging2")
    assert _deploys(own) == [("eps", "staging2")]


async def test_a_deploy_after_several_applications_deploys_them_or_asks(
    store: EmbeddedGraphStore
) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    made = "create application b1, create application b2, "
    with pytest.raises(CannotPlan) as refused:
        await planner.plan(made + "deploy to production")
    assert refused.value.reason == (
        "which application is deployed to production: b1 or b2? (deploy b1 to production, "
        "or deploy them to production for each)")
    assert refused.value.understood == ["create application b1", "create application b2"]
    for each in ("deploy them to production", "deploy both to production",
                 "deploy b1 and b2 to production", "deploy these to production",
                 "deploy the applications to production", "deploy both apps to production"):
        assert _deploys(await planner.plan(made + each)) == [
            ("b1", "production"), ("b2", "production")], each
    plural = await planner.plan("create applications b1 and b2 and deploy them to staging "
                                "with monitoring policy")
    assert _deploys(plural) == [("b1", "staging"), ("b2", "staging")]
    guarded = sorted(e.name for s in plural.steps if s.capability == "policy.apply"
                     for e in s.operates_on if e.kind == "deployment")
    assert guarded == ["b1-staging", "b2-staging"]
    # One application made: the deploy is of it, as in S1.
    assert _deploys(await planner.plan("create application b1, deploy to production")) == [
        ("b1", "production")]


@pytest.mark.parametrize("answer", ["production", "I meant production", "yes"])
async def test_an_answer_to_did_you_mean_puts_the_request_right(
    store: EmbeddedGraphStore, answer: str
) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    request = "create application eps, deploy to prodution with monitoring policy"
    with pytest.raises(CannotPlan) as refused:
        await planner.plan(request)
    assert refused.value.reason.endswith(
        "(answer 'production'; or, for a new one of that name: create environment prodution "
        "and deploy eps to prodution)")
    plan = await plan_message(planner, store, answer, answering=request)
    assert _deploys(plan) == [("eps", "production")]
    # The refusal's own advice, taken word for word, makes the new one.
    advised = await planner.plan("create environment prodution and deploy eps to prodution")
    assert _deploys(advised) == [("eps", "prodution")]
