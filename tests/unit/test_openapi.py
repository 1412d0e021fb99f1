"""The API's description names the bodies of its error answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.app import create_app
from orchestrator.settings import Settings


def _body(responses: dict[str, Any], code: int) -> str:
    ref: str = responses[str(code)]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


def test_error_answers_are_described(tmp_path: Path) -> None:
    spec = create_app(Settings(data_dir=tmp_path)).openapi()
    paths = spec["paths"]
    chat = paths["/v3/ai/chat"]["post"]["responses"]
    assert [_body(chat, c) for c in (404, 409, 422, 503)] == [
        "ErrorBody", "ErrorBody", "Refusal", "Refusal"]
    assert _body(paths["/v1/workflows/{workflow_id}"]["get"]["responses"], 404) == "ErrorBody"
    assert _body(paths["/v1/workflows"]["get"]["responses"], 400) == "ErrorBody"
    assert _body(paths["/v1/workflows/{workflow_id}/cancel"]["post"]["responses"], 409) == (
        "ErrorBody")
    assert _body(paths["/healthz"]["get"]["responses"], 503) == "ErrorBody"
    # Parameters that are not valid keep FastAPI's own description of its errors.
    graph = paths["/v1/graph/entities"]["get"]["responses"]
    assert _body(graph, 422) == "HTTPValidationError"
    refusal = spec["components"]["schemas"]["Refusal"]
    assert refusal["properties"]["detail"]["type"] == "string"
    assert set(refusal["required"]) == {"detail", "workflow_id", "problem"}
