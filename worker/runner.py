"""A workflow runner that answers Temporal's serialization-context questions
without entering the sandbox, when the data converter has no use for the answer.

For every payload an activation decodes or a completion encodes, Temporal asks the
workflow instance which serialization context applies, and which external-storage
context, over three passes each way. In the sandbox each question is an `exec`
inside it (~0.1 ms): timing the sandbox's entry points over sequential S1 runs,
a run asked ~90 of them, 8.6 ms of worker time, as much as its workflow code
took. The answer only matters to a converter, codec or storage that implements
`WithSerializationContext`. For one that does not, `DataConverter.with_context`
returns the converter itself, so every possible answer selects the same
converter, and answering None changes nothing but the cost. A converter that
does use contexts keeps the runner as is.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    SerializationContext,
    StorageDriverStoreContext,
    WorkflowSerializationContext,
)
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.workflow import Info, _Definition

_NO_STORE = StorageDriverStoreContext(target=None)
_PROBES: tuple[SerializationContext, ...] = (
    WorkflowSerializationContext(namespace="probe", workflow_id="probe"),
    ActivitySerializationContext(
        namespace="probe", activity_id="probe", activity_type="probe",
        activity_task_queue="probe", workflow_id="probe", workflow_type="probe",
        is_local=False,
    ),
)


def context_free(converter: DataConverter) -> bool:
    """True if no serialization context can change how `converter` converts:
    no external storage, and no component that takes a context."""
    return converter.external_storage is None and all(
        converter.with_context(probe) is converter for probe in _PROBES
    )


def context_free_runner(inner: WorkflowRunner, converter: DataConverter) -> WorkflowRunner:
    """`inner`, with context questions answered outside it when `converter` makes
    every answer equivalent."""
    return ContextFreeRunner(inner) if context_free(converter) else inner


class ContextFreeRunner(WorkflowRunner):
    """Runs workflows with `inner`; only the context questions are answered here.
    Use only with a converter for which `context_free` holds."""

    def __init__(self, inner: WorkflowRunner) -> None:
        self.inner = inner

    def prepare_workflow(self, defn: _Definition) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextFreeInstance(self.inner.create_instance(det))

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


class _ContextFreeInstance(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance) -> None:
        self._inner = inner

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self._inner.activate(act)

    def get_serialization_context(self, command_info: object) -> SerializationContext | None:
        return None

    def get_external_store_context(self, command_info: object) -> StorageDriverStoreContext:
        return _NO_STORE

    def get_info(self) -> Info:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()
