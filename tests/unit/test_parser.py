"""The request parser: each test states the exact actions a request must give."""

import pytest

from orchestrator.planning.parser import Action, parse_request, spelling_hint


def app(name: str) -> Action:
    return Action(verb="create", kind="application", name=name)


def service(name: str, application: str | None = None) -> Action:
    quals = {"application": application} if application else {}
    return Action(verb="create", kind="service", name=name, qualifiers=quals)


def deploy(env: str, application: str | None = None) -> Action:
    if application is None:
        return Action(verb="deploy", kind="deployment", name=env, qualifiers={"environment": env})
    return Action(
        verb="deploy",
        kind="deployment",
        name=f"{application}-{env}",
        qualifiers={"application": application, "environment": env},
    )


def policy(name: str, application: str, env: str) -> Action:
    quals = {"deployment": f"{application}-{env}", "application": application, "environment": env}
    return Action(verb="apply", kind="policy", name=name, qualifiers=quals)


def test_create_s1_full_request() -> None:
    parsed = parse_request(
        "Create application ecommerce with payment service, deploy to production "
        "with monitoring and security policies"
    )
    assert parsed.actions == [
        app("ecommerce"),
        service("payment", "ecommerce"),
        deploy("production", "ecommerce"),
        policy("monitoring", "ecommerce", "production"),
        policy("security", "ecommerce", "production"),
    ]
    assert parsed.not_understood == []


def test_create_s2_application_with_service() -> None:
    parsed = parse_request("create application shop with payment service")
    assert parsed.actions == [app("shop"), service("payment", "shop")]
    assert parsed.not_understood == []


def test_deploy_clauses_in_other_order() -> None:
    parsed = parse_request(
        "Deploy shop to staging with security policy, "
        "after creating application shop with a cart service"
    )
    assert parsed.actions == [
        deploy("staging", "shop"),
        policy("security", "shop", "staging"),
        app("shop"),
        service("cart", "shop"),
    ]
    assert parsed.not_understood == []


def test_create_called_and_then_deploy_it() -> None:
    parsed = parse_request(
        "create an application called blog, add a service called comments "
        "and then deploy it to prod"
    )
    assert parsed.actions == [
        app("blog"),
        service("comments", "blog"),
        deploy("production", "blog"),
    ]
    assert parsed.not_understood == []


def test_create_capitals_and_extra_punctuation() -> None:
    parsed = parse_request("CREATE APPLICATION Shop!!  Then... DEPLOY IT TO DEV?")
    assert parsed.actions == [app("shop"), deploy("development", "shop")]
    assert parsed.not_understood == []


def test_create_multiple_services_and_comma_list_of_policies() -> None:
    parsed = parse_request(
        "build the crm application with payment and checkout services. deployed into the "
        "staging environment with monitoring, logging and security policies"
    )
    assert parsed.actions == [
        app("crm"),
        service("payment", "crm"),
        service("checkout", "crm"),
        deploy("staging", "crm"),
        policy("monitoring", "crm", "staging"),
        policy("logging", "crm", "staging"),
        policy("security", "crm", "staging"),
    ]
    assert parsed.not_understood == []


def test_apply_policy_before_deploy_clause_attaches_to_it() -> None:
    parsed = parse_request(
        "create shop app; with security policy and monitoring policy; deploy in production"
    )
    assert parsed.actions == [
        app("shop"),
        policy("security", "shop", "production"),
        policy("monitoring", "shop", "production"),
        deploy("production", "shop"),
    ]
    assert parsed.not_understood == []


def test_deploy_prod_synonym_without_application() -> None:
    parsed = parse_request("deploy to prod")
    assert parsed.actions == [deploy("production")]
    assert parsed.not_understood == []


def test_deploy_named_application_into_named_environment() -> None:
    parsed = parse_request("deploy the shop application in the qa environment")
    assert parsed.actions == [deploy("qa", "shop")]
    assert parsed.not_understood == []


def test_create_service_for_named_application() -> None:
    parsed = parse_request("create application ecommerce with payment service for shop")
    assert parsed.actions == [app("ecommerce"), service("payment", "shop")]
    assert parsed.not_understood == []


def test_create_service_without_application() -> None:
    parsed = parse_request("add a service called payment")
    assert parsed.actions == [service("payment")]
    assert parsed.not_understood == []


def test_ensure_environment_without_deploy() -> None:
    assert parse_request("create an environment called qa").actions == [
        Action(verb="ensure", kind="environment", name="qa")
    ]
    assert parse_request("set up the staging environment").actions == [
        Action(verb="ensure", kind="environment", name="staging")
    ]


def test_apply_policy_without_deployment() -> None:
    parsed = parse_request("apply security policy")
    assert parsed.actions == [Action(verb="apply", kind="policy", name="security")]
    assert parsed.not_understood == []


def test_create_quote_injection_stays_out_of_names() -> None:
    parsed = parse_request("create application shop'; DROP")
    assert parsed.actions == [app("shop")]
    assert parsed.not_understood == ["drop"]


def test_create_shell_substitution_is_not_understood() -> None:
    parsed = parse_request("create application $(rm -rf)")
    assert parsed.actions == []
    assert parsed.not_understood == ["application", "rm", "-rf"]


def test_create_metacharacter_between_words_blocks_the_rule() -> None:
    parsed = parse_request("create application {shop}")
    assert parsed.actions == []
    assert parsed.not_understood == ["application", "shop"]


def test_create_lone_operator_is_reported() -> None:
    parsed = parse_request("create application shop && deploy to prod")
    assert parsed.actions == [app("shop"), deploy("production", "shop")]
    assert parsed.not_understood == ["&&"]


def test_create_unknown_text() -> None:
    parsed = parse_request("make me a sandwich")
    assert parsed.actions == []
    assert parsed.not_understood == ["sandwich"]


def test_create_partly_unknown_text() -> None:
    parsed = parse_request("create application shop and order a pizza")
    assert parsed.actions == [app("shop")]
    assert parsed.not_understood == ["order", "pizza"]


def test_deploy_without_destination_is_not_understood() -> None:
    parsed = parse_request("deploy shop")
    assert parsed.actions == []
    assert parsed.not_understood == ["deploy", "shop"]


def test_create_empty_text() -> None:
    parsed = parse_request("")
    assert parsed.actions == []
    assert parsed.not_understood == []


def test_create_service_added_to_named_application() -> None:
    parsed = parse_request("add a payment service to shop and deploy shop to staging")
    assert parsed.actions == [service("payment", "shop"), deploy("staging", "shop")]
    assert parsed.not_understood == []


def test_deploy_several_applications_to_one_environment() -> None:
    parsed = parse_request("deploy shop and blog to production")
    assert parsed.actions == [deploy("production", "shop"), deploy("production", "blog")]
    parsed = parse_request("deploy shop, blog and cart to prod")
    assert [a.name for a in parsed.actions] == [
        "shop-production", "blog-production", "cart-production"
    ]
    assert parsed.not_understood == []


def test_deploy_list_does_not_run_into_the_next_clause() -> None:
    parsed = parse_request("deploy shop, add a payment service to blog")
    assert parsed.actions == [service("payment", "blog")]
    assert parsed.not_understood == ["deploy", "shop"]


def test_deploy_to_an_environment_is_not_an_owner() -> None:
    parsed = parse_request("create application shop with payment service, deploy it to staging")
    assert parsed.actions == [app("shop"), service("payment", "shop"), deploy("staging", "shop")]


def test_deploy_to_several_environments() -> None:
    parsed = parse_request("create application shop and deploy it to staging and production")
    assert parsed.actions == [app("shop"), deploy("staging", "shop"), deploy("production", "shop")]
    assert parsed.not_understood == []


def test_deploy_to_environment_and_something_else_is_not_a_list() -> None:
    parsed = parse_request("deploy shop to staging and blog")
    assert parsed.actions == [deploy("staging", "shop")]
    assert parsed.not_understood == ["blog"]


def test_deploy_there_points_back_to_the_environment_named() -> None:
    parsed = parse_request("set up a qa environment and deploy shop there")
    assert parsed.actions == [deploy("qa", "shop")]
    assert parsed.not_understood == []


def test_deploy_there_without_an_environment_is_not_understood() -> None:
    parsed = parse_request("deploy shop there")
    assert parsed.actions == []
    assert parsed.not_understood == ["deploy", "shop", "there"]


def test_a_name_in_another_script_is_shown_whole() -> None:
    parsed = parse_request("create application café with 支付 service")
    assert parsed.actions == []
    assert parsed.not_understood == ["application", "café", "支付", "service"]
    assert "not 'café', '支付'" in spelling_hint(parsed.not_understood)
    assert spelling_hint(["drop"]) == ""


def test_a_name_too_long_or_a_character_one_cannot_see_is_told() -> None:
    long = "a" * 100
    parsed = parse_request(f"create application {long}")
    assert spelling_hint(parsed.not_understood) == (
        " (names are at most 63 characters: 'aaaaaaaaaaaa'… has 100)")
    # "shop" followed by a right-to-left override reads as "shop" on screen.
    hidden = "create application shop\u202e"
    parsed = parse_request(hidden)
    assert parsed.not_understood == ["application", "shop"]
    assert spelling_hint(parsed.not_understood, hidden) == (
        " (the request holds characters one cannot see: U+202E)")


@pytest.mark.parametrize("text", [
    "apply monitoring policy to shop in staging",
    "add a monitoring policy to the shop deployment in the staging environment",
    "apply monitoring policy on shop on stage",
])
def test_a_policy_for_an_application_in_an_environment_guards_that_deployment(
    text: str,
) -> None:
    parsed = parse_request(text)
    assert parsed.actions == [policy("monitoring", "shop", "staging")]
    assert parsed.not_understood == []


def test_policies_name_the_deployment_they_guard() -> None:
    parsed = parse_request("apply monitoring and security policies to deployment shop-staging")
    guarded = {"deployment": "shop-staging"}
    assert parsed.actions == [
        Action(verb="apply", kind="policy", name="monitoring", qualifiers=guarded),
        Action(verb="apply", kind="policy", name="security", qualifiers=guarded),
    ]
    assert parsed.not_understood == []


def test_a_policy_for_an_environment_guards_the_known_applications_deployment() -> None:
    parsed = parse_request("apply a security policy to production", default_app="shop")
    assert parsed.actions == [policy("security", "shop", "production")]
    # With no application known, the environment alone names no deployment.
    assert parse_request("apply a security policy to production").not_understood


def test_stg_is_staging() -> None:
    assert parse_request("deploy shop to stg").actions == [deploy("staging", "shop")]
