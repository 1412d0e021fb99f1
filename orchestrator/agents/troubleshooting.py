"""Capabilities of troubleshooting a failing deployment: inspect it, diagnose it
four ways at once, fix what the diagnoses found, deploy it again.

Their order comes from what each consumes and produces, like every other
capability's: the diagnoses consume the inspection, the fix consumes every
finding, the redeploy consumes the fix.
"""

from __future__ import annotations

from typing import Any

from orchestrator.models import NAME_PATTERN, Capability

# The diagnoses, by the name of the check each makes (also its capability's suffix).
CHECKS = ("deployment_logs", "service_health", "policy_compliance", "environment_resources")
INSPECT = "diagnosis.inspect"
FIX, REVERT = "remediation.fix", "remediation.revert"
REDEPLOY, RESTORE = "deployment.redeploy", "deployment.restore"

_NAME = {"type": "string", "pattern": NAME_PATTERN}
_OWNER = {"type": "string", "minLength": 1, "maxLength": 300}
_OBJECT: dict[str, Any] = {"type": "object"}
_ENTITY = {
    "type": "object", "properties": {"kind": _NAME, "name": _NAME},
    "required": ["kind", "name"], "additionalProperties": False,
}


def diagnosis(check: str) -> str:
    return f"diagnosis.{check}"


def _schema(**props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": sorted(props),
            "additionalProperties": False}


def _read_only(name: str, description: str, consumes: str, produces: str,
               **props: dict[str, Any]) -> Capability:
    return Capability(
        name=name, description=description, input_schema=_schema(**props),
        consumes=[consumes], produces=[produces], read_only=True, idempotent=True,
    )


_DIAGNOSES = {
    "deployment_logs": "Read the deployment's recent steps and the failed ones' errors.",
    "service_health": "Check the services the deployment ships against its application's.",
    "policy_compliance": "Check the deployment's policies against what its environment "
                         "requires.",
    "environment_resources": "Check the environment and what else runs in it.",
}

TROUBLESHOOTING_CAPABILITIES: list[Capability] = [
    _read_only(INSPECT, "Gather a deployment's state from the graph: what it deploys, "
               "where, its services, policies and health.", "deployment", "inspection",
               deployment=_NAME),
    *(
        _read_only(diagnosis(check), description, "inspection", "finding",
                   deployment=_NAME, inspection=_OBJECT)
        for check, description in _DIAGNOSES.items()
    ),
    Capability(
        name=FIX, description="Decide the fix of a failing deployment from every diagnosis "
        "and apply what can be applied before a redeploy (missing environment, policies).",
        input_schema=_schema(deployment=_NAME, findings=_schema(
            **dict.fromkeys(CHECKS, _OBJECT))),
        consumes=["finding"], produces=["fix"], compensation=REVERT,
    ),
    Capability(
        name=REVERT, description="Undo remediation.fix: remove what it applied.",
        input_schema=_schema(deployment=_NAME, owner=_OWNER,
                             applied={"type": "array", "items": _ENTITY}),
    ),
    Capability(
        name=REDEPLOY, description="Deploy an application to an environment again, with "
        "its services as they are now, and mark the deployment healthy.",
        input_schema=_schema(application=_NAME, environment=_NAME,
                             reason={"type": "string", "maxLength": 1000}),
        consumes=["application", "environment", "fix"], produces=["deployment"],
        compensation=RESTORE,
    ),
    Capability(
        name=RESTORE, description="Undo deployment.redeploy: put back the health it replaced.",
        input_schema=_schema(application=_NAME, environment=_NAME, owner=_OWNER,
                             previous=_OBJECT),
    ),
]
