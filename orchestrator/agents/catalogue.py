"""Capabilities and agents of the built-in platform pack.

Each capability declares the entity kinds it consumes and produces: the planner
derives the order of steps from these, never from a hard-coded sequence.
"""

from __future__ import annotations

from typing import Any

from orchestrator.agents.troubleshooting import TROUBLESHOOTING_CAPABILITIES
from orchestrator.models import NAME_PATTERN, Agent, AgentKind, Capability

_NAME = {"type": "string", "pattern": NAME_PATTERN}
# A policy is one deployment's: "monitoring" on shop-staging is monitoring-shop-staging.
POLICY_NAMES = "{policy}-{deployment}"
# Who created an entity: "<workflow id>/<step id>" of the step that claimed it.
_OWNER = {"type": "string", "minLength": 1, "maxLength": 300}


def _schema(*names: str, owner: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {n: _NAME for n in names}
    if owner:
        props["owner"] = _OWNER
    return {
        "type": "object",
        "properties": props,
        "required": sorted(props),
        "additionalProperties": False,
    }


def _pair(
    kind: str, verb: str, undo: str, params: tuple[str, ...], description: str,
    consumes: tuple[str, ...] = (), ensures: bool = False, names: str | None = None,
) -> list[Capability]:
    """A forward action and the action that compensates it."""
    forward = Capability(
        name=f"{kind}.{verb}", description=description, input_schema=_schema(*params),
        consumes=list(consumes), produces=[kind], ensures=ensures,
        compensation=f"{kind}.{undo}", names=names,
    )
    backward = Capability(
        name=f"{kind}.{undo}", description=f"Undo {kind}.{verb}: remove what it made.",
        input_schema=_schema(*params, owner=True),
    )
    return [forward, backward]


PLATFORM_CAPABILITIES: list[Capability] = [
    *_pair("application", "create", "delete", ("name",), "Create an application."),
    *_pair(
        "service", "create", "delete", ("application", "name"),
        "Create a service owned by an application.", consumes=("application",),
    ),
    *_pair(
        "environment", "ensure", "release", ("name",),
        "Validate an environment, creating it when it does not exist.", ensures=True,
    ),
    *_pair(
        "deployment", "create", "delete", ("application", "environment"),
        "Deploy an application (with its services) to an environment.",
        consumes=("application", "service", "environment"),
    ),
    *_pair(
        "policy", "apply", "remove", ("deployment", "policy"),
        "Apply a policy (monitoring, security, ...) to a deployment.",
        consumes=("deployment",), names=POLICY_NAMES,
    ),
    *TROUBLESHOOTING_CAPABILITIES,
]


def _agent(kind: str) -> Agent:
    caps = sorted(c.name for c in PLATFORM_CAPABILITIES if c.name.startswith(f"{kind}."))
    # A dead worker is noticed within the heartbeat timeout, not the step timeout.
    return Agent(
        id=f"{kind}-agent", kind=AgentKind.BUILTIN, capabilities=caps, heartbeat_ms=5_000
    )


PLATFORM_AGENTS: list[Agent] = [
    _agent(kind) for kind in ("application", "service", "environment", "deployment", "policy",
                              "diagnosis", "remediation")
]
