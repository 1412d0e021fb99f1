"""Idempotency-Keys within their tenant. A key names a request within its tenant:
runs and follow-ups are keyed by the tenant's form of it ('acme~k1'), and every
answer names the key as the caller sent it ('k1')."""

from __future__ import annotations

from orchestrator.models import DEFAULT_TENANT, RunResult

_SCOPE = "~"


def scoped_key(key: str | None, tenant: str) -> str | None:
    """Another tenant's same key starts a run (or adds a follow-up) of its own, and
    learns nothing of the first. No key or tenant has a '~', so no two of these are
    alike; the default tenant's keys stay as they are (its runs keep the ids they
    always had)."""
    if key is None or tenant == DEFAULT_TENANT:
        return key
    return f"{tenant}{_SCOPE}{key}"


def sent_key(key: str | None, tenant: str) -> str | None:
    """The key a caller of `tenant` sent, from its scoped form."""
    if key is None:
        return None
    return key.removeprefix(f"{tenant}{_SCOPE}") if tenant != DEFAULT_TENANT else key


def with_keys_as_sent(run: RunResult) -> RunResult:
    """The run as its caller reads it: each follow-up under the key it was sent with.
    The run records the scoped keys, which the API matches repeats against."""
    if not any(e.key for e in run.extensions):
        return run
    extensions = [e.model_copy(update={"key": sent_key(e.key, run.tenant)})
                  for e in run.extensions]
    return run.model_copy(update={"extensions": extensions})
