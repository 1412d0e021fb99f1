"""The context-free runner is used only where every context answer is equivalent."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from worker.runner import ContextFreeRunner, context_free, context_free_runner


class TaggingCodec(PayloadCodec, WithSerializationContext):
    """A codec that reads the context (as an encrypting codec keyed by workflow would)."""

    def __init__(self, context: SerializationContext | None = None) -> None:
        self.context = context

    def with_context(self, context: SerializationContext) -> TaggingCodec:
        return TaggingCodec(context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


class PlainCodec(PayloadCodec):
    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


def test_the_project_converter_has_no_use_for_contexts() -> None:
    assert context_free(pydantic_data_converter)
    runner = context_free_runner(SandboxedWorkflowRunner(), pydantic_data_converter)
    assert isinstance(runner, ContextFreeRunner)
    assert isinstance(runner.inner, SandboxedWorkflowRunner)


def test_a_codec_without_contexts_keeps_the_shortcut() -> None:
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=PlainCodec())
    assert context_free(converter)


def test_a_codec_that_reads_contexts_gets_the_runner_as_is() -> None:
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=TaggingCodec())
    context = WorkflowSerializationContext(namespace="default", workflow_id="w")
    assert converter.with_context(context) is not converter
    assert not context_free(converter)
    inner = UnsandboxedWorkflowRunner()
    assert context_free_runner(inner, converter) is inner


def test_the_default_converter_is_context_free_too() -> None:
    assert context_free(DataConverter.default)
