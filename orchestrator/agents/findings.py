"""What a diagnosis finds, and the rules that turn graph facts into findings.

Pure and deterministic: the diagnosis agents gather the facts from the graph,
these functions judge them. A finding names its issues in words and proposes
remedies the fix can act on; an issue no remedy can fix is `blocking`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from orchestrator.models import Model

# Remedies, in the order a fix applies them: the place first, then what guards
# the deployment, then the deployment itself.
ENSURE_ENVIRONMENT, APPLY_POLICY, REDEPLOY = "ensure-environment", "apply-policy", "redeploy"
REMEDY_ORDER = (ENSURE_ENVIRONMENT, APPLY_POLICY, REDEPLOY)
# Policies every deployment must have, by environment: a deployment nobody
# monitors cannot be diagnosed next time, and production is exposed.
REQUIRED_POLICIES: Mapping[str, tuple[str, ...]] = {"production": ("monitoring", "security")}
DEFAULT_REQUIRED = ("monitoring",)
# Steps of earlier runs a finding quotes: outputs travel in the run's history,
# so a long-lived deployment's whole past stays in the graph, not here.
HISTORY_QUOTED = 20


class Remedy(Model):
    action: Literal["ensure-environment", "apply-policy", "redeploy"]
    target: str
    reason: str


class Finding(Model):
    check: str
    deployment: str
    status: Literal["ok", "problem"]
    issues: list[str] = []
    # Issues no remedy here can fix: the fix refuses rather than redeploy blindly.
    blocking: list[str] = []
    remedies: list[Remedy] = []
    # The facts the judgement rests on.
    evidence: dict[str, Any] = {}
    # What the step was given by the steps it depends on.
    received: dict[str, Any] = {}
    # The entities it read from the graph, as "kind:name".
    entities: list[str] = []


def judged(check: str, deployment: str, issues: list[str], remedies: list[Remedy],
           evidence: dict[str, Any], blocking: list[str] | None = None) -> Finding:
    blocking = blocking or []
    return Finding(
        check=check, deployment=deployment,
        status="problem" if issues or blocking else "ok",
        issues=issues, blocking=blocking, remedies=remedies, evidence=evidence,
    )


def deployment_logs(
    deployment: str, health: Mapping[str, Any], run_status: str | None,
    failed_dependencies: Mapping[str, str | None], history: list[dict[str, Any]],
) -> Finding:
    """A failing deployment: the step that failed, its error, how its run ended."""
    state = health.get("health", "unknown")
    evidence = {"health": state, "history": history[:HISTORY_QUOTED],
                "history_steps": len(history),
                "last_deployed_by": health.get("deployed_by")}
    if state != "failing":
        return judged("deployment_logs", deployment, [], [], evidence)
    step = f"{health.get('failed_run')}/{health.get('failed_step')}"
    issues = [f"{health.get('failed_capability')} failed in step {step} "
              f"(attempt {health.get('failed_attempt')}): {health.get('error')}"]
    if run_status is not None:
        issues.append(f"run {health.get('failed_run')} ended {run_status}")
    remedy = Remedy(action=REDEPLOY, target=deployment,
                    reason=f"the last deployment step failed: {health.get('error')}")
    return judged("deployment_logs", deployment, issues, [remedy], {
        **evidence, "failed_step": step, "run_status": run_status,
        "failed_step_dependencies": dict(failed_dependencies),
    })


def service_health(
    deployment: str, application: str | None, application_exists: bool,
    owned: list[str], deployed: list[str] | None,
) -> Finding:
    """The services the deployment ships against those its application owns now."""
    evidence = {"application": application, "owned": owned, "deployed": deployed}
    if application is None or not application_exists:
        blocking = [f"the application it deploys ({application or 'unknown'}) no longer exists"]
        return judged("service_health", deployment, [], [], evidence, blocking)
    issues: list[str] = []
    if deployed is not None:
        issues += [f"service {s} is owned by {application} but not deployed"
                   for s in sorted(set(owned) - set(deployed))]
        issues += [f"service {s} is deployed but {application} no longer owns it"
                   for s in sorted(set(deployed) - set(owned))]
    remedies = [Remedy(action=REDEPLOY, target=deployment,
                       reason="ship the services as they are now: " + "; ".join(issues))
                ] if issues else []
    return judged("service_health", deployment, issues, remedies, evidence)


def policy_compliance(deployment: str, environment: str | None, attached: list[str]
                      ) -> Finding:
    """The policies attached against those its environment requires."""
    required = REQUIRED_POLICIES.get(environment or "", DEFAULT_REQUIRED)
    missing = [p for p in required if p not in attached]
    issues = [f"required policy {p} is missing" for p in missing]
    remedies = [Remedy(action=APPLY_POLICY, target=p,
                       reason=f"{environment} requires the {p} policy") for p in missing]
    return judged("policy_compliance", deployment, issues, remedies,
                  {"attached": attached, "required": list(required)})


def environment_resources(
    deployment: str, environment: str | None, exists: bool, neighbours: Mapping[str, str],
) -> Finding:
    """The environment itself and the health of everything else running in it:
    when others fail too, the cause is the place, not this deployment."""
    evidence = {"environment": environment, "exists": exists, "deployments": dict(neighbours)}
    if environment is None:
        return judged("environment_resources", deployment, [], [], evidence,
                      ["the deployment runs in no environment"])
    if not exists:
        return judged("environment_resources", deployment,
                      [f"environment {environment} no longer exists"],
                      [Remedy(action=ENSURE_ENVIRONMENT, target=environment,
                              reason=f"{deployment} runs in {environment}, which is gone")],
                      evidence)
    others = sorted(d for d, h in neighbours.items() if d != deployment and h == "failing")
    many = len(others) > 1
    issues = [f"{len(others)} other deployment{'s' if many else ''} in {environment} "
              f"{'are' if many else 'is'} failing too: {', '.join(others)}"] if others else []
    return judged("environment_resources", deployment, issues, [], evidence)
