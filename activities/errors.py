"""Mapping of core errors to Temporal failures: bad input fails at once,
transient faults are retried by Temporal."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from orchestrator.errors import CannotPlan, OrchestratorError, RetryLater


def to_application_error(
    error: OrchestratorError, *details: Any, told: bool = False
) -> ApplicationError:
    """`told`: the caller has logged the failure in a line of its own."""
    if isinstance(error, CannotPlan):
        details = ({"understood": error.understood, "not_understood": error.listed,
                    **({"question": True} if error.question else {})},)
    # A request that cannot be planned is an answer to its sender, not a fault, and
    # a failure already told needs no traceback: Temporal's worker logs a benign
    # failure at DEBUG, any other as a warning with its traceback (30 lines, each
    # attempt, for a tool that answered "already exists").
    benign = told or isinstance(error, CannotPlan)
    return ApplicationError(
        str(error), *details, type=type(error).__name__, non_retryable=not error.retryable,
        next_retry_delay=error.delay if isinstance(error, RetryLater) else None,
        category=(ApplicationErrorCategory.BENIGN if benign
                  else ApplicationErrorCategory.UNSPECIFIED),
    )
