"""The workflow id of a request's run, from the Idempotency-Key it was sent with.

A key names a request within its tenant: runs and follow-ups are keyed by the
tenant's form of it ('acme~k1'). The API names runs so, and a client that sent a
key can find its run by it before the API has answered (`chat` while a model plans).
"""

from __future__ import annotations

import uuid

from orchestrator.models import DEFAULT_TENANT

SCOPE = "~"


def scoped_key(key: str | None, tenant: str) -> str | None:
    """Another tenant's same key starts a run (or adds a follow-up) of its own, and
    learns nothing of the first. No key or tenant has a '~', so no two of these are
    alike; the default tenant's keys stay as they are (its runs keep the ids they
    always had)."""
    if key is None or tenant == DEFAULT_TENANT:
        return key
    return f"{tenant}{SCOPE}{key}"


def run_id_for(key: str | None, tenant: str = DEFAULT_TENANT) -> str:
    """The workflow id of a request's run: its key's, or a new one."""
    scoped = scoped_key(key, tenant)
    return f"run-{scoped}" if scoped is not None else f"run-{uuid.uuid4().hex}"
