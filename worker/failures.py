"""Failures kept within what Temporal holds of them.

The server keeps a pending activity's last failure up to 4 KB
(`limit.mutableStateActivityFailureSize.error`) and past that replaces it with
"Failure exceeds size limit.": a model that did not answer in time failed with
7.3 KB, most of it the tracebacks of httpx and httpcore under the one line that
says what happened, and `GET /v1/workflows/{id}` and `chat` told the size limit
instead. So a failure over budget loses the tracebacks of its causes (their
messages stay, and so does its own traceback), and one still over budget keeps the
innermost end of its own traceback, where the error was raised. Causes are
converted first, innermost first, each by the same rule: what goes is the
tracebacks under the first failure over budget, and one within budget is kept whole.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultFailureConverter, PayloadConverter

# Below the server's 4 KB, with room for the activity's own fields around it.
FAILURE_BUDGET = 3 * 1024
CUT = "…\n"


class CompactFailureConverter(DefaultFailureConverter):
    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        super().to_failure(exception, payload_converter, failure)
        compact(failure)


def compact(failure: Failure, budget: int = FAILURE_BUDGET) -> None:
    """Over `budget`: leave out the tracebacks of `failure`'s causes, then cut its
    own to fit."""
    if failure.ByteSize() <= budget:
        return
    cause: Any = failure
    while cause.HasField("cause"):
        cause = cause.cause
        cause.stack_trace = ""
    over = failure.ByteSize() - budget
    if over <= 0 or not failure.stack_trace:
        return
    trace = failure.stack_trace.encode()
    keep = max(len(trace) - over - len(CUT.encode()), 0)
    failure.stack_trace = CUT + trace[len(trace) - keep:].decode(errors="ignore") if keep else ""
