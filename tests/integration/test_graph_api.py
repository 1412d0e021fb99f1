"""The read-only graph API over what a real S1 run left in the graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from api.schemas import EntityDetail, EntityPage, Resolution, RunGraphView
from orchestrator.agents.catalogue import PLATFORM_AGENTS
from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer
from orchestrator.graph.store import (
    AgentRecord,
    EntityRecord,
    Impact,
    Relation,
    StepGraphContext,
)
from orchestrator.models import EntityRef, RunResult, RunStatus
from tests.integration.stack import S1, run_waited, running_stack

APP = EntityRef(kind="application", name="ecommerce")
SVC = EntityRef(kind="service", name="payment")
ENV = EntityRef(kind="environment", name="production")
DEP = EntityRef(kind="deployment", name="ecommerce-production")
POLICIES = [EntityRef(kind="policy", name=f"{p}-ecommerce-production")
            for p in ("monitoring", "security")]


async def _get(http: httpx.AsyncClient, path: str, **params: Any) -> Any:
    reply = await http.get(path, params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_graph_api_reads_what_s1_left(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True})
        assert reply.status_code == 200, reply.text
        result = RunResult.model_validate(reply.json()["result"])
        assert result.status == RunStatus.COMPLETED and result.plan is not None
        wf = result.workflow_id
        step_of = {step.capability: step.id for step in result.plan.steps}
        http = s.http

        page = EntityPage.model_validate(await _get(http, "/v1/graph/entities"))
        assert [e.ref for e in page.entities] == [APP, DEP, ENV, *POLICIES, SVC]
        second = EntityPage.model_validate(
            await _get(http, "/v1/graph/entities", kind="policy", limit=1, offset=1)
        )
        assert [e.ref for e in second.entities] == [POLICIES[1]] and second.offset == 1
        assert second.next_offset is None and page.next_offset is None
        # Pages walked by next_offset: every entity once, the last page saying so.
        walked: list[EntityRecord] = []
        at: int | None = 0
        while at is not None:
            part = EntityPage.model_validate(
                await _get(http, "/v1/graph/entities", limit=3, offset=at))
            walked += part.entities
            at = part.next_offset
        assert walked == page.entities and part.entities
        # An empty filter, as a URL template sends it, is no filter.
        unfiltered = EntityPage.model_validate(await _get(http, "/v1/graph/entities", kind=""))
        assert unfiltered.entities == page.entities
        resolved = await _get(http, "/v1/graph/resolve", q="the payment service", kind="")
        assert [c["name"] for c in resolved["candidates"]] == ["payment"]

        detail = EntityDetail.model_validate(
            await _get(http, "/v1/graph/entities/application/ecommerce")
        )
        assert detail.entity.created_by == f"{wf}/{step_of['application.create']}"
        assert sorted(detail.relations, key=lambda r: r.type) == [
            Relation(source=APP, type="deployed_to", target=ENV),
            Relation(source=DEP, type="deploys", target=APP),
            Relation(source=APP, type="owns", target=SVC),
        ]

        impact = Impact.model_validate(
            await _get(http, "/v1/graph/entities/application/ecommerce/impact")
        )
        assert [(i.depth, i.entity) for i in impact.entities] == [
            (1, DEP), (1, SVC), (2, POLICIES[0]), (2, POLICIES[1]),
        ]
        assert impact.entities[0].via == Relation(source=DEP, type="deploys", target=APP)
        assert impact.runs == [wf]
        assert sorted(st.step_id for st in impact.steps) == sorted(
            step_of[c] for c in ("application.create", "service.create", "deployment.create")
        )
        assert all(st.status == "completed" for st in impact.steps)

        async def resolved(q: str) -> list[EntityRef]:
            body = Resolution.model_validate(await _get(http, "/v1/graph/resolve", q=q))
            return [e.ref for e in body.candidates]

        assert await resolved("the payment service") == [SVC]
        assert await resolved("what is deployed to production") == [APP, DEP]
        assert await resolved("my application") == [APP]
        # A kind narrows what the text refers to: text naming nothing is nothing.
        nope = Resolution.model_validate(
            await _get(http, "/v1/graph/resolve", q="nope", kind="application"))
        assert nope.candidates == []

        view = RunGraphView.model_validate(await _get(http, f"/v1/graph/workflows/{wf}"))
        assert view.status == "completed"
        labels = sorted(n.label for n in view.nodes)
        assert labels.count("Workflow") == 1 and labels.count("Step") == len(result.steps)
        assert labels.count("Entity") == 6 and labels.count("Agent") == 5
        edges = {(e.source, e.type, e.target) for e in view.edges}
        deploy = step_of["deployment.create"]
        for capability in ("application.create", "service.create", "environment.ensure"):
            assert (f"step:{deploy}", "DEPENDS_ON", f"step:{step_of[capability]}") in edges
        assert (f"step:{deploy}", "OPERATES_ON", f"entity:{DEP.key}") in edges
        assert (f"step:{deploy}", "EXECUTED_BY", "agent:deployment-agent") in edges
        assert (f"workflow:{wf}", "CONTAINS", f"step:{deploy}") in edges

        policy_step = step_of["policy.apply"]
        context = StepGraphContext.model_validate(
            await _get(http, f"/v1/graph/workflows/{wf}/steps/{policy_step}/context")
        )
        assert sorted(context.dependencies) == sorted(
            step_of[c] for c in ("application.create", "service.create", "environment.ensure",
                                 "deployment.create")
        )
        deployed = context.dependencies[deploy]
        assert deployed.status == "completed" and deployed.output is not None
        assert deployed.output["deployment"] == DEP.name
        assert DEP in [c.entity.ref for c in context.entities]

        agents = [AgentRecord.model_validate(a) for a in await _get(http, "/v1/agents")]
        assert [(a.id, a.kind, sorted(a.capabilities)) for a in agents] == [
            (a.id, "builtin", a.capabilities) for a in sorted(PLATFORM_AGENTS, key=lambda a: a.id)
        ]


async def test_graph_api_refuses_unknown_and_malformed_names(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        http = s.http
        for path in ("/v1/graph/entities/application/nothing",
                     "/v1/graph/entities/application/nothing/impact",
                     "/v1/graph/workflows/run-unknown",
                     "/v1/graph/workflows/run-unknown/steps/app/context"):
            reply = await http.get(path)
            assert reply.status_code == 404, (path, reply.text)
            assert "nothing" in reply.text or "run-unknown" in reply.text
        # An unknown run is told as such, not as a step it lacks.
        reply = await http.get("/v1/graph/workflows/run-unknown/steps/app/context")
        assert reply.json()["detail"] == "no workflow 'run-unknown' in the graph"
        for path, params in (
            ("/v1/graph/entities/Application/shop", {}),
            ("/v1/graph/entities/application/shop'%20OR%201=1", {}),
            ("/v1/graph/entities/application/shop/impact", {"depth": "0"}),
            ("/v1/graph/entities", {"kind": "no such kind"}),
            ("/v1/graph/entities", {"limit": "0"}),
            ("/v1/graph/entities", {"offset": str(2**64)}),
            ("/v1/graph/resolve", {}),
        ):
            reply = await http.get(path, params=params)
            assert reply.status_code == 422, (path, params, reply.text)
        empty = EntityPage.model_validate(await _get(http, "/v1/graph/entities"))
        assert empty.entities == []
        far = EntityPage.model_validate(await _get(http, "/v1/graph/entities", offset=10_000))
        assert far.entities == []
        nothing = Resolution.model_validate(await _get(http, "/v1/graph/resolve", q="my app"))
        assert nothing.candidates == []
        # A kind no capability makes or needs is told as such, naming the kinds.
        for path, params in (("/v1/graph/entities", {"kind": "aplication"}),
                             ("/v1/graph/resolve", {"q": "my app", "kind": "aplication"}),
                             ("/v1/graph/entities/aplication/shop", {}),
                             ("/v1/graph/entities/aplication/shop/impact", {})):
            reply = await http.get(path, params=params)
            assert reply.status_code == 422, (path, reply.text)
            assert reply.json()["detail"].startswith(
                "no kind 'aplication': the kinds are application, deployment,"), reply.text
        none_yet = await _get(http, "/v1/graph/entities", kind="deployment")
        assert EntityPage.model_validate(none_yet).entities == []
        # A kind the graph holds is known, though no capability makes it any more
        # (its MCP server was removed): an unknown name of it is only not found.
        await s.runtime.store.claim_entity(EntityRef(kind="repository", name="kept"), "", {})
        reply = await http.get("/v1/graph/entities/repository/nope")
        assert reply.status_code == 404 and reply.json()["detail"] == "no repository 'nope'"


async def test_a_step_that_failed_is_linked_to_what_it_worked_on(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    """"Which runs touched this deployment?" names the run whose deploy broke it."""
    deploy = "create application shop and deploy it to staging"
    async with running_stack(client, temporal_server.address, tmp_path) as s:
        assert (await run_waited(s, deploy)).status == RunStatus.COMPLETED
    broken = {"deployment.create": Fault(fail_attempts=1, non_retryable=True)}
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=broken) as s:
        failed = await run_waited(s, "deploy shop to staging")
        impact = Impact.model_validate(
            await _get(s.http, "/v1/graph/entities/deployment/shop-staging/impact"))
    assert failed.status == RunStatus.ROLLED_BACK
    assert failed.workflow_id in impact.runs
    assert [(o.step_id, o.status) for o in impact.steps if o.workflow_id == failed.workflow_id
            ] == [("deploy-deployment-shop-staging", "failed")]
