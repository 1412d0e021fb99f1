"""An Idempotency-Key on a follow-up names that one request, on the real dev server:
a repeat is answered from the run's record of it, while the run goes and after it
has ended, and the key sent with another message is refused."""

from __future__ import annotations

from pathlib import Path

import httpx
from temporalio.client import Client

from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer
from orchestrator.models import RunResult, RunStatus
from tests.integration.stack import S1, running_stack

SLOW_DEPLOY = {"deployment.create": Fault(delay_ms=3000)}
MAIL, CHAT = "also add a mail service", "also add a chat service"


async def _chat(http: httpx.AsyncClient, message: str, key: str | None = None,
                **options: object) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await http.post("/v3/ai/chat", json={"message": message, **options},
                           headers=headers)


async def test_a_followups_key_names_one_followup_while_the_run_goes_and_after(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=SLOW_DEPLOY) as s:
        started = await _chat(s.http, S1)
        run = started.json()["workflow_id"]
        first = await _chat(s.http, MAIL, "fu-mail", conversation_id=run)
        again = await _chat(s.http, MAIL, "fu-mail", conversation_id=run)
        other = await _chat(s.http, CHAT, "fu-mail", conversation_id=run)
        # A key that started a run of its own is not a follow-up's key too.
        own = await _chat(s.http, "create application blog", "fu-own")
        reused = await _chat(s.http, CHAT, "fu-own", conversation_id=run)
        ended = await _chat(s.http, MAIL, "fu-mail", conversation_id=run, wait=True)
        # Once the run has ended: the same answer again, not a new run doing it twice.
        after = await _chat(s.http, MAIL, "fu-mail", conversation_id=run)
        other_after = await _chat(s.http, CHAT, "fu-mail", conversation_id=run)
        fresh = await _chat(s.http, CHAT, "fu-chat", conversation_id=run)
        fresh_again = await _chat(s.http, CHAT, "fu-chat", conversation_id=run)
    for reply in (first, again, ended, after, fresh, fresh_again):
        assert reply.status_code == 200, reply.text
    assert [s["id"] for s in first.json()["added_steps"]] == ["create-service-mail"]
    for reply in (again, ended, after):
        assert reply.json()["workflow_id"] == run
        assert reply.json()["added_steps"] == first.json()["added_steps"]
    result = RunResult.model_validate(ended.json()["result"])
    assert result.status == RunStatus.COMPLETED
    assert [(e.message, e.key) for e in result.extensions] == [(MAIL, "fu-mail")]
    for reply in (other, other_after):
        assert reply.status_code == 409, reply.text
        assert "was used for another request ('also add a mail service')" in reply.text
    assert own.status_code == 200, own.text
    assert reused.status_code == 409, reused.text
    assert "was used for another request ('create application blog')" in reused.text
    # A new key on the ended run: a new run that follows it, found again by its key.
    assert fresh.json()["workflow_id"] == fresh_again.json()["workflow_id"] == "run-fu-chat"
    assert fresh.json()["follows"] == run


async def test_a_followup_is_in_its_conversations_tenant_and_keys_are_the_tenants(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path,
                             agent_faults=SLOW_DEPLOY) as s:
        theirs = (await _chat(s.http, S1, tenant="acme")).json()["workflow_id"]
        ours = (await _chat(s.http, S1)).json()["workflow_id"]
        # Naming no tenant, a follow-up is in its conversation's.
        added = await _chat(s.http, MAIL, "k1", conversation_id=theirs)
        # The same key in another tenant's conversation is that tenant's own.
        mine = await _chat(s.http, CHAT, "k1", conversation_id=ours)
        # Another tenant's conversation is not found by naming one's own tenant.
        crossed = await _chat(s.http, CHAT, conversation_id=theirs, tenant="default")
        # The key sent again with another message, in a follow-up and in a new run.
        other = await _chat(s.http, CHAT, "k1", conversation_id=theirs)
        await _chat(s.http, "create application blog", "k2", tenant="acme")
        other_run = await _chat(s.http, "create application shop", "k2", tenant="acme")
        ended = await _chat(s.http, MAIL, "k1", conversation_id=theirs, wait=True)
        shown = await s.http.get(f"/v1/workflows/{theirs}")
    assert added.status_code == mine.status_code == 200, (added.text, mine.text)
    # Each refusal names the key as it was sent, with its tenant: never 'acme~k1'.
    for reply, key in ((other, "k1"), (other_run, "k2")):
        assert reply.status_code == 409, reply.text
        assert reply.json()["detail"].startswith(
            f"Idempotency-Key {key!r} of tenant 'acme' was used for another request ("
        ), reply.text
    assert [st["id"] for st in mine.json()["added_steps"]] == ["create-service-chat"]
    assert crossed.status_code == 404, crossed.text
    assert f"no conversation {theirs!r} in tenant 'default'" in crossed.text
    result = RunResult.model_validate(ended.json()["result"])
    assert result.tenant == "acme"
    # The run's follow-ups are listed under the key as it was sent, as they were
    # answered: the run keys them 'acme~k1' to match repeats within its tenant.
    assert shown.status_code == 200, shown.text
    for run in (result, RunResult.model_validate(shown.json())):
        assert [(e.message, e.key) for e in run.extensions] == [(MAIL, "k1")]
