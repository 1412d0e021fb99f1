"""The remediation agent: the fix of a failing deployment, decided from every
diagnosis's findings, and its undo.

The fix applies what must be in place before the deployment can run again (a
missing environment, required policies) and leaves the redeploy to the step
after it. What it makes is claimed under its step's key, so a retry finds its
own work and the undo removes only that. A blocking issue (the application is
gone) makes it refuse: a redeploy could not succeed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from orchestrator.agents.base import AgentResult, StepContext
from orchestrator.agents.faults import Fault, with_fault
from orchestrator.agents.findings import (
    APPLY_POLICY,
    ENSURE_ENVIRONMENT,
    REMEDY_ORDER,
    Finding,
)
from orchestrator.agents.platform import policy_name
from orchestrator.agents.troubleshooting import CHECKS, FIX, REVERT
from orchestrator.errors import InvalidInput
from orchestrator.graph.store import GraphStore, Relation
from orchestrator.models import EntityRef


class RemediationAgents:
    capabilities = (FIX, REVERT)

    def __init__(self, store: GraphStore, faults: Mapping[str, Fault] | None = None) -> None:
        self._store = store
        self._faults = dict(faults or {})

    async def run(
        self, capability: str, params: dict[str, Any], ctx: StepContext
    ) -> AgentResult:
        if capability == FIX:
            act = self._fix
        elif capability == REVERT:
            act = self._revert
        else:
            raise InvalidInput(f"no remediation agent handles {capability!r}")
        return await with_fault(self._faults, capability, params, ctx, lambda: act(params, ctx))

    async def _fix(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        dep = EntityRef(kind="deployment", name=p["deployment"])
        found = _findings(p["findings"], dep.name)
        blocking = [f"{f.check}: {b}" for f in found for b in f.blocking]
        if blocking:
            raise InvalidInput(f"cannot fix {dep.name}: {'; '.join(blocking)}")
        if await self._store.get_entity(dep) is None:
            raise InvalidInput(f"deployment {dep.name!r} does not exist")
        actions = _actions(found)
        applied: list[EntityRef] = []
        for action in actions:
            made = await self._apply(action["action"], action["target"], dep, ctx)
            if made is not None:
                applied.append(made)
        summary = "; ".join(f"{a['action']} {a['target']}" for a in actions) or "nothing to fix"
        output = {
            "deployment": dep.name, "owner": ctx.owner, "actions": actions,
            "applied": [e.model_dump() for e in applied], "summary": summary,
            "problems": {f.check: f.issues for f in found if f.issues},
        }
        return AgentResult(output=output, operates_on=[dep, *applied])

    async def _apply(self, action: str, target: str, dep: EntityRef, ctx: StepContext
                     ) -> EntityRef | None:
        """Do one action that belongs before the redeploy; the entity it made, if any."""
        if action == ENSURE_ENVIRONMENT:
            ref = EntityRef(kind="environment", name=target)
        elif action == APPLY_POLICY:
            ref = EntityRef(kind="policy", name=policy_name(target, dep.name))
        else:  # the redeploy is the next step's
            return None
        await self._store.claim_entity(ref, ctx.owner, {})
        if action == APPLY_POLICY:
            await self._store.relate([Relation(source=dep, type="has_policy", target=ref)],
                                     ctx.owner)
        # Made or found: either way the step holds it, and its undo lets go of it.
        return ref

    async def _revert(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        refs = [EntityRef.model_validate(entity) for entity in p["applied"]]
        released = await self._store.release_holds(p["owner"], refs)
        removed = [ref.key for ref in refs if released[ref.key].deleted]
        return AgentResult(output={"deployment": p["deployment"], "removed": removed})


def _findings(given: dict[str, Any], deployment: str) -> list[Finding]:
    found = []
    for check in CHECKS:
        try:
            finding = Finding.model_validate(given[check])
        except ValidationError as err:
            raise InvalidInput(f"parameter findings.{check}: not a finding: {err}") from None
        if finding.check != check or finding.deployment != deployment:
            raise InvalidInput(f"parameter findings.{check}: a {finding.check} finding of "
                               f"{finding.deployment}, not a {check} finding of {deployment}")
        found.append(finding)
    return found


def _actions(found: list[Finding]) -> list[dict[str, Any]]:
    """Every proposed remedy once, in the order they must happen, with the checks
    that proposed it and their reasons."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for finding in found:
        for remedy in finding.remedies:
            action = merged.setdefault((remedy.action, remedy.target), {
                "action": remedy.action, "target": remedy.target, "from": [], "reasons": [],
            })
            action["from"].append(finding.check)
            action["reasons"].append(remedy.reason)
    return [merged[k] for k in sorted(merged, key=lambda k: (REMEDY_ORDER.index(k[0]), k[1]))]
