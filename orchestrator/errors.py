"""Errors of the core. The activity layer maps them to Temporal failures."""

from __future__ import annotations

from datetime import timedelta


class OrchestratorError(Exception):
    """Base class; `retryable` tells whether trying again may help."""

    retryable = False


class InvalidInput(OrchestratorError):
    """The input is wrong: a missing entity, a bad name, a schema violation."""


class TransientFailure(OrchestratorError):
    """A fault that may pass: trying again is worthwhile."""

    retryable = True


class AttemptTimedOut(TransientFailure):
    """An attempt stopped itself at its timeout (activities/deadline.py)."""


class RetryLater(TransientFailure):
    """A transient fault whose source said how long to wait before trying again
    (an HTTP Retry-After): the next attempt waits that long instead of backing off."""

    def __init__(self, message: str, delay: timedelta) -> None:
        super().__init__(message)
        self.delay = delay


class ServiceUnreachable(OrchestratorError):
    """A service a command needs (the API, the Temporal server) does not answer,
    or cannot be started (its port is taken)."""


class GraphStoreUnavailable(OrchestratorError):
    """The graph store cannot be opened: misconfigured, unreachable, or refusing us.
    Met by an activity, it may pass (a restarting Neo4j): trying again may help."""

    retryable = True


# How many words a refusal lists of those it did not understand.
NOT_UNDERSTOOD_LISTED = 20


class CannotPlan(OrchestratorError):
    """The request could not be turned into a plan; says what was understood."""

    def __init__(self, reason: str, understood: list[str], not_understood: list[str],
                 question: bool = False) -> None:
        self.reason = reason
        self.understood = understood
        self.not_understood = not_understood
        # A question, not a request to do something: saying more does not help; the
        # refusal says where the answer is.
        self.question = question
        super().__init__(self.describe())

    @property
    def listed(self) -> list[str]:
        """What of `not_understood` a refusal tells: the first words are enough to
        say what went wrong, and a long message of nothing the planner knows is
        not echoed back whole."""
        return self.not_understood[:NOT_UNDERSTOOD_LISTED]

    def describe(self) -> str:
        understood = "; ".join(self.understood) or "nothing"
        text = f"cannot plan: {self.reason}. Understood: {understood}."
        if self.not_understood:
            unlisted = len(self.not_understood) - len(self.listed)
            more = f" and {unlisted} more" if unlisted else ""
            text += f" Not understood: {', '.join(self.listed)}{more}."
        return text
