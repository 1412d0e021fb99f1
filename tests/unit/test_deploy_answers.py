"""Deploys of several applications: "deploy them" in a follow-up, "the two", lists
of environments, and answers naming which applications a deploy is of."""

from __future__ import annotations

import pytest

from orchestrator.errors import CannotPlan
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import EntityRef
from orchestrator.planning.answering import plan_message
from orchestrator.planning.offline import OfflinePlanner
from tests.platform_world import deployed
from tests.unit.test_deploy_targets import _deploys
from tests.unit.test_planner import REGISTRY

MADE = "create application b1, create application b2, "
BOTH = [EntityRef(kind="application", name=n) for n in ("blog", "shop")]


@pytest.fixture
async def blog_and_shop(store: EmbeddedGraphStore) -> OfflinePlanner:
    await deployed(store, "blog", "production", ())
    await deployed(store, "shop", "production", ())
    return OfflinePlanner(REGISTRY, store)


@pytest.mark.parametrize("request_text", ["deploy them to staging", "deploy both to staging",
                                          "deploy the two to staging"])
async def test_a_follow_up_deploys_the_conversations_applications(
    blog_and_shop: OfflinePlanner, request_text: str
) -> None:
    plan = await blog_and_shop.plan(request_text, BOTH)
    assert _deploys(plan) == [("blog", "staging"), ("shop", "staging")]
    # Deployed as they are: neither is made again.
    assert "application.create" not in {s.capability for s in plan.steps}


async def test_a_count_that_is_not_the_applications_is_asked_about(
    blog_and_shop: OfflinePlanner
) -> None:
    with pytest.raises(CannotPlan) as refused:
        await blog_and_shop.plan("deploy the three to staging", BOTH)
    assert refused.value.reason == (
        "which applications are deployed to staging? 3 were asked for, and 2 are known "
        "(blog and shop): name them (deploy b1 and b2 to staging)")
    plan = await blog_and_shop.plan(MADE + "deploy the two to production")
    assert _deploys(plan) == [("b1", "production"), ("b2", "production")]


async def test_a_list_of_environments_may_name_new_ones(store: EmbeddedGraphStore) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    for text in ("create application b1, deploy to staging and perf and qa environments",
                 "create application b1, deploy to staging, perf and qa environments"):
        assert _deploys(await planner.plan(text)) == [
            ("b1", "staging"), ("b1", "perf"), ("b1", "qa")], text
    guarded = await planner.plan("create application b1, deploy it to staging and perf "
                                 "environments, then add monitoring policy")
    assert sorted(e.name for s in guarded.steps if s.capability == "policy.apply"
                  for e in s.operates_on if e.kind == "deployment") == ["b1-perf", "b1-staging"]
    # Without the noun, "perf" may be an application: asked, with how to say it.
    with pytest.raises(CannotPlan) as refused:
        await planner.plan("create application b1, deploy to staging and perf")
    assert refused.value.reason == (
        "part of the request was not understood (if perf is a new environment, say so: "
        "to staging and perf environments)")
    assert refused.value.not_understood == ["perf"]
    # A new one is still checked for a near miss.
    with pytest.raises(CannotPlan, match="did you mean 'production'"):
        await planner.plan("create application b1, deploy to staging and prodution environments")


async def test_each_application_of_one_deploy_may_go_to_its_own_environment(
    store: EmbeddedGraphStore
) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    for text in (MADE + "deploy b1 to staging and b2 to perf",
                 MADE + "deploy b1 to staging, b2 to the perf environment",
                 MADE + "deploy b1 to staging and b2 to perf and staging"):
        plan = await planner.plan(text)
        assert _deploys(plan)[:2] == [("b1", "staging"), ("b2", "perf")], text
    guarded = await planner.plan(MADE + "deploy b1 to staging and b2 to production and "
                                 "b1 to qa environment with monitoring policy")
    assert _deploys(guarded) == [("b1", "staging"), ("b2", "production"), ("b1", "qa")]
    # A clause of its own is still read as one.
    other = await planner.plan(MADE + "deploy b1 to staging and add monitoring policy "
                               "to b1 in staging")
    assert _deploys(other) == [("b1", "staging")]
    assert [e.name for s in other.steps if s.capability == "policy.apply"
            for e in s.operates_on if e.kind == "deployment"] == ["b1-staging"]


@pytest.mark.parametrize(("answer", "deployed_apps"), [
    ("b1 and b2", ["b1", "b2"]), ("both", ["b1", "b2"]), ("all of them", ["b1", "b2"]),
    ("the two", ["b1", "b2"]), ("b2", ["b2"]), ("just b1", ["b1"]),
])
async def test_an_answer_names_the_applications_a_deploy_is_of(
    store: EmbeddedGraphStore, answer: str, deployed_apps: list[str]
) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    request = MADE + "deploy to production"
    with pytest.raises(CannotPlan, match="which application is deployed to production"):
        await planner.plan(request)
    plan = await plan_message(planner, store, answer, answering=request)
    assert _deploys(plan) == [(app, "production") for app in deployed_apps]
    assert plan.request == f"create application b1, create application b2, deploy " \
        f"{' and '.join(deployed_apps)} to production"


async def test_an_answer_naming_no_candidate_is_not_taken(store: EmbeddedGraphStore) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    with pytest.raises(CannotPlan, match="names nothing the graph holds"):
        await plan_message(planner, store, "b3", answering=MADE + "deploy to production")


@pytest.mark.parametrize("request_text", ["deploy to staging", "deploy my application to staging"])
@pytest.mark.parametrize("answer", ["both", "blog and shop", "them"])
async def test_an_answer_deploys_several_of_the_conversations_applications(
    blog_and_shop: OfflinePlanner, store: EmbeddedGraphStore, request_text: str, answer: str
) -> None:
    with pytest.raises(CannotPlan, match="which application"):
        await blog_and_shop.plan(request_text, BOTH)
    plan = await plan_message(blog_and_shop, store, answer, answering=request_text,
                              context=BOTH)
    assert _deploys(plan) == [("blog", "staging"), ("shop", "staging")]


async def test_several_answering_what_takes_one_application_is_refused(
    blog_and_shop: OfflinePlanner, store: EmbeddedGraphStore
) -> None:
    """Asked again as it was, the question would come back for ever."""
    for answer in ("both", "blog and shop"):
        with pytest.raises(CannotPlan) as refused:
            await plan_message(blog_and_shop, store, answer,
                               answering="also add a cache service", context=BOTH)
        assert refused.value.reason == (
            "'also add a cache service' is asked of one application at a time: answer "
            "with one of blog or shop, then ask again for the next")


async def test_a_deployment_name_too_long_is_refused_saying_so(
    store: EmbeddedGraphStore
) -> None:
    """Each part a name, '<application>-<environment>' over 63 characters is not."""
    planner = OfflinePlanner(REGISTRY, store)
    app = "c" * 60
    for text in (f"create application {app}, deploy to staging",
                 f"create application {app}, deploy it to production with monitoring policy"):
        with pytest.raises(CannotPlan) as refused:
            await planner.plan(text)
        assert refused.value.reason.startswith(f"the deployment would be named '{app}-"), text
        assert "names take at most 63" in refused.value.reason
    # At the limit, it is planned.
    fits = "c" * (63 - len("-staging"))
    assert _deploys(await planner.plan(f"create application {fits}, deploy to staging")) == [
        (fits, "staging")]


@pytest.mark.parametrize("reuse", [True, False])
async def test_a_deployment_renamed_after_its_application_too_long_is_refused(
    store: EmbeddedGraphStore, reuse: bool
) -> None:
    """Named by its service, the deploy is of the application that owns it: the
    name that makes may be too long too, with plan reuse on or off."""
    app = "c" * 58
    await deployed(store, app, "qa", ("payment",))
    with pytest.raises(CannotPlan) as refused:
        await OfflinePlanner(REGISTRY, store, reuse_plans=reuse).plan(
            "deploy payment to staging")
    assert refused.value.reason.startswith(f"the deployment would be named '{app}-staging'")
