"""Idempotency-Keys as their callers sent them: runs and follow-ups are keyed by
the tenant's form of a key ('acme~k1', orchestrator/run_ids.py), and every answer
names the key as the caller sent it ('k1')."""

from __future__ import annotations

from orchestrator.models import DEFAULT_TENANT, RunResult
from orchestrator.run_ids import SCOPE


def sent_key(key: str | None, tenant: str) -> str | None:
    """The key a caller of `tenant` sent, from its scoped form."""
    if key is None:
        return None
    return key.removeprefix(f"{tenant}{SCOPE}") if tenant != DEFAULT_TENANT else key


def with_keys_as_sent(run: RunResult) -> RunResult:
    """The run as its caller reads it: each follow-up under the key it was sent with.
    The run records the scoped keys, which the API matches repeats against."""
    if not any(e.key for e in run.extensions):
        return run
    extensions = [e.model_copy(update={"key": sent_key(e.key, run.tenant)})
                  for e in run.extensions]
    return run.model_copy(update={"extensions": extensions})
