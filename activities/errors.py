"""Mapping of core errors to Temporal failures: bad input fails at once,
transient faults are retried by Temporal."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from orchestrator.errors import CannotPlan, OrchestratorError, RetryLater


def to_application_error(error: OrchestratorError, *details: Any) -> ApplicationError:
    if isinstance(error, CannotPlan):
        details = ({"understood": error.understood, "not_understood": error.not_understood},)
    return ApplicationError(
        str(error), *details, type=type(error).__name__, non_retryable=not error.retryable,
        next_retry_delay=error.delay if isinstance(error, RetryLater) else None,
        # A request that cannot be planned is an answer to its sender, not a fault:
        # the worker logs it at DEBUG, not as a warning with a traceback.
        category=(ApplicationErrorCategory.BENIGN if isinstance(error, CannotPlan)
                  else ApplicationErrorCategory.UNSPECIFIED),
    )
