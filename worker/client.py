"""The Temporal client, with the pydantic data converter every part must share."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.metrics import STEP_DURATION
from orchestrator.devserver import listening
from orchestrator.errors import InvalidInput, ServiceUnreachable
from orchestrator.models import RunResult
from orchestrator.settings import Settings
from worker.failures import CompactFailureConverter
from workflows import search_attributes as sa

# Failures leave out their causes' tracebacks, which Temporal would not keep.
DATA_CONVERTER = dataclasses.replace(pydantic_data_converter,
                                     failure_converter_class=CompactFailureConverter)
# Step durations run from milliseconds (zero-work agents) to minutes (a deploy);
# the SDK's default buckets start at 50 ms.
DURATION_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
                       300000]


async def connect(
    settings: Settings, wait_s: float = 30.0, telemetry: Runtime | None = None
) -> Client:
    """Connect to Temporal, waiting for a server that is still starting; a worker
    run with the client uses `telemetry` (core's logs, its metrics: `worker_runtime`)."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        try:
            return await Client.connect(
                settings.address, namespace=settings.temporal_namespace,
                data_converter=DATA_CONVERTER, runtime=telemetry,
            )
        except (RuntimeError, RPCError) as err:
            if asyncio.get_running_loop().time() > deadline:
                raise ServiceUnreachable(
                    f"cannot reach the Temporal server at {settings.address} within "
                    f"{wait_s:g} s: is it running? ({err})"
                ) from err
            await asyncio.sleep(0.2)


# Temporal core writes its own warnings ("Workflow task duration exceeded") to the
# terminal, coloured, whatever the output is (a log file got the escape codes);
# through Python's logging they take the process's format, and go where it goes.
CORE_LOGGING = LoggingConfig(
    filter=LoggingConfig.default.filter,
    forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core"),
                                   append_target_to_name=False,
                                   prepend_target_on_message=False),
)


def worker_runtime(settings: Settings) -> Runtime:
    """The Temporal runtime of a worker or API process: core's logs forwarded, and
    metrics exported if a metrics port is set."""
    return metrics_runtime(settings) or Runtime(telemetry=TelemetryConfig(logging=CORE_LOGGING))


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime exporting to Prometheus, if a metrics port is set; made
    before anything starts, so that a port it cannot serve on is told first."""
    port = settings.metrics_port
    if port is None:
        return None
    where = f"{settings.metrics_host}:{port}"
    try:  # the exporter takes an address, not a name: "localhost" is resolved here
        family, *_, address = socket.getaddrinfo(
            settings.metrics_host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as err:
        raise InvalidInput(f"metrics cannot be served on {where} (ORCHESTRATOR_METRICS_HOST): "
                           f"the host does not resolve ({err})") from None
    bind = f"[{address[0]}]:{port}" if family == socket.AF_INET6 else f"{address[0]}:{port}"
    if listening(port):
        raise InvalidInput(f"the metrics port {settings.metrics_port} is taken "
                           "(ORCHESTRATOR_METRICS_PORT): pick another, or unset it")
    try:
        return Runtime(telemetry=TelemetryConfig(logging=CORE_LOGGING, metrics=PrometheusConfig(
            bind_address=bind, histogram_bucket_overrides={
                STEP_DURATION: DURATION_BUCKETS_MS})))
    except (RuntimeError, ValueError) as err:
        raise InvalidInput(f"metrics cannot be served on {where} "
                           f"(ORCHESTRATOR_METRICS_HOST/PORT): {err}") from None


async def ensure_search_attributes(client: Client) -> None:
    """Register the runs' search attributes unless the namespace has them; a
    server that refuses gets one clear error instead of failing every run."""
    namespace = client.namespace
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise InvalidInput(
            f"the Temporal server at {client.service_client.config.target_host} has no "
            f"namespace {namespace!r} (ORCHESTRATOR_TEMPORAL_NAMESPACE): create it "
            f"(temporal operator namespace create --namespace {namespace}) or name one "
            "it has"
        ) from err
    missing = sorted(set(sa.DEFINITIONS) - set(listed.custom_attributes))
    if not missing:
        return
    try:
        await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={n: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for n in missing},
        ))
    except RPCError as err:
        commands = "; ".join(
            f"temporal operator search-attribute create --namespace {namespace} "
            f"--name {n} --type Keyword" for n in missing
        )
        raise InvalidInput(
            f"the Temporal namespace {namespace!r} lacks the search attributes "
            f"{', '.join(missing)} and refused to add them ({err.message}); "
            f"an administrator can run: {commands}"
        ) from err


def run_handle(client: Client, workflow_id: str) -> WorkflowHandle[Any, RunResult]:
    """A handle on one orchestration run, its result typed."""
    return client.get_workflow_handle(workflow_id, result_type=RunResult)
