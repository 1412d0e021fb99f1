"""422 answers as FastAPI gives them, less the echo of a large input: a 1.8 MB
message over the length limit came back whole in the error."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

ECHO_CHARS = 200


async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_trimmed(error) for error in jsonable_encoder(exc.errors())]
    return JSONResponse(status_code=422, content={"detail": errors})


def _trimmed(error: dict[str, Any]) -> dict[str, Any]:
    if "input" not in error:
        return error
    value = error["input"]
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) <= ECHO_CHARS:
        return error
    return {**error, "input": f"{text[:ECHO_CHARS]}... ({len(text)} characters)"}
