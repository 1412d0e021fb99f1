"""Failures stay within what Temporal keeps of a pending activity's last failure."""

from __future__ import annotations

from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultFailureConverter, DefaultPayloadConverter
from temporalio.exceptions import ApplicationError

from worker.client import DATA_CONVERTER
from worker.failures import FAILURE_BUDGET, CompactFailureConverter

SERVER_LIMIT = 4 * 1024


def _deep(depth: int) -> None:
    """A traceback `depth` frames deep (two functions in turn: Python folds a
    function calling itself into one line)."""
    if depth == 0:
        raise TimeoutError("read timed out")
    _deeper(depth - 1)


def _deeper(depth: int) -> None:
    _deep(depth)


def _chained() -> ApplicationError:
    """An agent's failure over a library's, with tracebacks 40 frames deep."""
    try:
        try:
            _deep(40)
        except TimeoutError as low:
            raise ConnectionError("the model service did not answer") from low
    except ConnectionError as mid:
        try:
            raise ApplicationError("the model did not answer within 2 s",
                                   type="ModelTimeout") from mid
        except ApplicationError as top:
            return top
    raise AssertionError("unreachable")


def _converted(converter: DefaultFailureConverter, error: BaseException) -> Failure:
    failure = Failure()
    converter.to_failure(error, DefaultPayloadConverter(), failure)
    return failure


def test_a_failure_keeps_its_messages_within_the_budget() -> None:
    error = _chained()
    assert _converted(DefaultFailureConverter(), error).ByteSize() > SERVER_LIMIT
    failure = _converted(CompactFailureConverter(), error)
    assert failure.ByteSize() <= FAILURE_BUDGET
    assert failure.message == "the model did not answer within 2 s"
    assert failure.application_failure_info.type == "ModelTimeout"
    assert failure.cause.message == "the model service did not answer"
    assert failure.cause.cause.message == "read timed out"
    # The library's deep traceback goes; the short ones above it stay.
    assert failure.cause.cause.stack_trace == ""
    assert "_chained" in failure.cause.stack_trace
    assert "_chained" in failure.stack_trace


def test_a_failure_within_the_budget_is_kept_whole() -> None:
    try:
        try:
            _deep(2)
        except TimeoutError as low:
            raise ConnectionError("the model service did not answer") from low
    except ConnectionError as error:
        whole = _converted(DefaultFailureConverter(), error)
        kept = _converted(CompactFailureConverter(), error)
    assert whole.ByteSize() <= FAILURE_BUDGET
    assert kept == whole
    assert "_deep" in kept.cause.stack_trace


def test_a_traceback_over_budget_keeps_where_the_error_was_raised() -> None:
    try:
        _deep(200)
    except TimeoutError as error:
        failure = _converted(CompactFailureConverter(), error)
    assert failure.ByteSize() <= FAILURE_BUDGET
    assert failure.stack_trace.startswith("…\n")
    assert failure.stack_trace.rstrip().endswith('raise TimeoutError("read timed out")')


def test_the_client_converts_failures_so() -> None:
    assert isinstance(DATA_CONVERTER.failure_converter, CompactFailureConverter)
