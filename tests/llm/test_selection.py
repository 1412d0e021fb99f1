"""Which planner the worker uses: the LLM one only when a model is configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from orchestrator.planning.llm.planner import LlmPlanner
from orchestrator.planning.offline import OfflinePlanner
from orchestrator.settings import Settings
from worker.runtime import build_planner, build_runtime


@pytest.mark.parametrize(("options", "expected"), [
    ({}, OfflinePlanner),
    ({"openai_api_key": SecretStr("sk-x")}, LlmPlanner),
    ({"openai_base_url": "http://127.0.0.1:9/v1"}, LlmPlanner),
])
async def test_build_planner_uses_the_model_only_when_configured(
    tmp_path: Path, options: dict[str, Any], expected: type
) -> None:
    runtime = await build_runtime(Settings(data_dir=tmp_path, **options))
    try:
        planner = build_planner(runtime)
        assert type(planner) is expected
        if isinstance(planner, LlmPlanner):
            await planner.close()
    finally:
        await runtime.close()


def test_settings_read_the_model_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("ORCHESTRATOR_OPENAI_MODEL", "some-model")
    settings = Settings()
    assert settings.llm_configured and settings.openai_model == "some-model"
    assert settings.openai_api_key is not None
    assert "sk-from-env" not in repr(settings)
    assert settings.openai_max_unreadable == 2 and settings.openai_temperature == 0.0
