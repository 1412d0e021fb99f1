"""A scripted OpenAI-compatible server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.llm.fake_openai import FakeOpenAi


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAi]:
    server = FakeOpenAi()
    server.start()
    yield server
    server.stop()
