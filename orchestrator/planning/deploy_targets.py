"""What a deploy is of, when the request names it by something other than an
application: read through the graph, never guessed.

Deployments are of applications. A request may name one of its services ("deploy
my payment service to staging", or only "deploy payment to staging" when no
application is called payment), or "my application": the application that owns
that service, or the one application there is, is what is deployed. When several
could be meant the request is refused asking which; left unread, the first case
made (and deployed) an application named after the service, nobody asked for.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from orchestrator.errors import CannotPlan
from orchestrator.graph.store import GraphStore
from orchestrator.models import EntityRef
from orchestrator.planning.conversation import from_context
from orchestrator.planning.environments import check_environment
from orchestrator.planning.parser import THE_APPLICATION, Action

APPLICATION, SERVICE = "application", "service"
OWNS = "owns"


async def resolve_deploy_targets(
    actions: list[Action], store: GraphStore, context: Sequence[EntityRef] = (),
    making: Collection[EntityRef] = (),
) -> list[Action]:
    """The actions with each deploy's application known; what guards a renamed
    deployment (its policies) follows it."""
    request = _Request(actions, store, context, making)
    renamed: dict[str, Action] = {}
    for action in actions:
        if action.kind == "deployment":
            app = await request.application_of(action)
            if app is not None:
                env = action.qualifiers.get("environment", "")
                quals = {k: v for k, v in action.qualifiers.items() if k != SERVICE}
                renamed[action.name] = action.model_copy(update={
                    "name": f"{app}-{env}", "qualifiers": {**quals, APPLICATION: app}})
            deploy = renamed.get(action.name, action)
            await request.check_existing(deploy)
            await request.check_environment(deploy.qualifiers.get("environment", ""),
                                            deploy.qualifiers.get(APPLICATION))
    if not renamed:
        return actions
    resolved: list[Action] = []
    for action in actions:
        if action.name in renamed and action.kind == "deployment":
            resolved.append(renamed[action.name])
        elif action.qualifiers.get("deployment") in renamed:
            deploy = renamed[action.qualifiers["deployment"]]
            quals = {k: v for k, v in action.qualifiers.items() if k != SERVICE}
            resolved.append(action.model_copy(update={"qualifiers": {
                **quals, "deployment": deploy.name, APPLICATION: deploy.qualifiers[APPLICATION]}}))
        else:
            resolved.append(action)
    return resolved


class _Request:
    def __init__(
        self, actions: list[Action], store: GraphStore, context: Sequence[EntityRef],
        making: Collection[EntityRef],
    ) -> None:
        self._store = store
        self._context = context
        self._made = {(a.kind, a.name) for a in actions if not a.existing}
        self._made |= {(e.kind, e.name) for e in making}
        self._made |= {(e.kind, e.name) for e in context}
        # Services this request makes, by the application each is made in.
        self._owners = {a.name: a.qualifiers[APPLICATION] for a in actions
                        if a.kind == SERVICE and APPLICATION in a.qualifiers}

    async def application_of(self, deploy: Action) -> str | None:
        """The application the deploy is of, when it must be read; None when the
        deploy names its application (or names a new one, made as asked)."""
        what = f"{deploy.verb} to {deploy.qualifiers.get('environment', '')}"
        if SERVICE in deploy.qualifiers:  # its application, when said ("... of shop")
            return deploy.qualifiers.get(APPLICATION) or await self._owner(
                deploy.qualifiers[SERVICE], what)
        app = deploy.qualifiers.get(APPLICATION)
        if app == THE_APPLICATION:
            return from_context(APPLICATION, self._context, what) or await self._only_one(what)
        if app is None or (APPLICATION, app) in self._made or await self._exists(APPLICATION, app):
            return None
        if app in self._owners or await self._exists(SERVICE, app):
            return await self._owner(app, what)
        return None

    async def check_existing(self, deploy: Action) -> None:
        """A redeploy is of a deployment there is: made for it, the application and
        its deployment would be new ("redeploy cart" with no cart anywhere)."""
        if not deploy.existing or ("deployment", deploy.name) in self._made:
            return
        if not await self._exists("deployment", deploy.name):
            app = deploy.qualifiers.get(APPLICATION, deploy.name)
            env = deploy.qualifiers.get("environment", "")
            raise CannotPlan(f"there is no deployment {deploy.name} to redeploy: deploy it "
                             f"first (deploy {app} to {env})", [], [deploy.name])

    async def check_environment(self, name: str, app: str | None) -> None:
        await check_environment(name, app, self._made, self._store)

    async def _owner(self, service: str, what: str) -> str:
        if service in self._owners:
            return self._owners[service]
        ref = EntityRef(kind=SERVICE, name=service)
        owners = sorted({r.source.name for r in await self._store.relations(ref)
                         if r.type == OWNS and r.target == ref and r.source.kind == APPLICATION})
        # Of several, the one the conversation is about (or an answer to "which
        # one?" named: answering.py puts it in place of the others).
        talked_of = [o for o in owners if EntityRef(kind=APPLICATION, name=o) in self._context]
        if len(talked_of) == 1:
            return talked_of[0]
        if len(owners) == 1:
            return owners[0]
        if not owners:
            raise CannotPlan(f"there is no service {service} to deploy: name its application "
                             f"({what})", [], [service])
        raise CannotPlan(
            f"service {service} belongs to applications {', '.join(owners[:-1])} and "
            f"{owners[-1]}: which one? (deploy {owners[0]} ...)", [], [service])

    async def _only_one(self, what: str) -> str:
        names = sorted(e.name for e in await self._store.find_entities(APPLICATION))
        if len(names) == 1:
            return names[0]
        if not names:
            raise CannotPlan(f"there is no application to deploy yet: name the one to make "
                             f"({what})", [], [APPLICATION])
        raise CannotPlan(f"which application? {' or '.join(names)} ({what})", [], [APPLICATION])

    async def _exists(self, kind: str, name: str) -> bool:
        return await self._store.get_entity(EntityRef(kind=kind, name=name)) is not None
