"""Failures of the model service, mapped so Temporal retries what may pass.

408, 409, 429 and 5xx are retried, after the server's Retry-After when it gives one;
any other 4xx is not (a bad key or model name does not fix itself); timeouts and
lost connections are retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import openai

from orchestrator.errors import OrchestratorError, RetryLater, TransientFailure

RETRYABLE_STATUS = frozenset({408, 409, 429})
# A server asking for a longer wait is treated as asking for this long: a plan
# that waits longer than this is of no use to whoever asked for it.
MAX_RETRY_AFTER = timedelta(minutes=5)
# Error bodies end up in the workflow history: keep them short.
MAX_MESSAGE = 300


class ModelRejected(OrchestratorError):
    """The model service refused the request for good (HTTP 4xx other than 408, 409
    and 429): wrong key, model or request. Trying again will not help."""


class UnreadableAnswer(TransientFailure):
    """The model answered, more than once, with something that does not fit the
    schema. Another attempt later may read better."""


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> timedelta | None:
    """The wait a response asks for: `retry-after-ms`, else `retry-after` in seconds
    or as an HTTP date. None when absent, unreadable or already past."""
    delay: timedelta | None = None
    if (ms := headers.get("retry-after-ms")) is not None:
        delay = _seconds(ms, scale=0.001)
    if delay is None and (value := headers.get("retry-after")) is not None:
        delay = _seconds(value)
        if delay is None:
            delay = _until(value, now or datetime.now(UTC))
    if delay is None or delay <= timedelta(0):
        return None
    return min(delay, MAX_RETRY_AFTER)


def _seconds(value: str, scale: float = 1.0) -> timedelta | None:
    try:
        seconds = float(value) * scale
    except ValueError:
        return None
    return timedelta(seconds=seconds) if seconds == seconds else None  # NaN is no delay


def _until(value: str, now: datetime) -> timedelta | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; a naive one means the same
        when = when.replace(tzinfo=UTC)
    return when - now


def from_api_error(error: openai.APIError, timeout_s: float) -> OrchestratorError:
    """The core error that says whether (and when) asking again may help."""
    if isinstance(error, openai.APITimeoutError):
        return TransientFailure(f"the model did not answer within {timeout_s:g} s")
    if isinstance(error, openai.APIConnectionError):
        # The SDK says only "Connection error.": where it tried is what to check.
        url = error.request.url.copy_with(query=None)
        return TransientFailure(f"cannot reach the model service at {url}: {_short(error)}")
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        message = f"the model service answered HTTP {status}: {_short(error)}"
        if status in RETRYABLE_STATUS or status >= 500:
            delay = retry_after(error.response.headers)
            return RetryLater(message, delay) if delay else TransientFailure(message)
        return ModelRejected(message)
    return TransientFailure(f"the model service failed: {_short(error)}")


def _short(error: openai.APIError) -> str:
    text = error.message
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
