"""Which activity the code schedules where the history scheduled another.

Temporal checks a replayed command against the history by its kind and type
only: a step added before the others, or steps started in another order, are
all `run_agent_step`, so it notices only later, when the counts or kinds stop
matching. Every step activity carries a summary naming its step
(`<step id> · <capability> · <agent>`): comparing the summaries the code
schedules, in order, with those the history recorded finds the first event where
they really part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import (
    Interceptor,
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)


@dataclass
class Parting:
    """The first scheduled activity where code and history differ."""

    event_id: int
    recorded: str
    scheduled: str


@dataclass
class ScheduledSteps(Interceptor):
    """Records each activity the replayed code schedules: (type, summary)."""

    scheduled: list[tuple[str, str]] = field(default_factory=list)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        scheduled = self.scheduled

        class Outbound(WorkflowOutboundInterceptor):
            def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
                scheduled.append((input.activity, input.summary or ""))
                return super().start_activity(input)

        class Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(Outbound(outbound))

        return Inbound

    def parting(self, events: list[HistoryEvent]) -> Parting | None:
        """The first recorded activity the code scheduled otherwise; None if the code
        scheduled each one as recorded, as far as it got."""
        recorded = [e for e in events
                    if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
        for event, (kind, summary) in zip(recorded, self.scheduled, strict=False):
            was = (event.activity_task_scheduled_event_attributes.activity_type.name,
                   _summary(event))
            if was != (kind, summary):
                return Parting(event.event_id, _label(*was), _label(kind, summary))
        return None


def _summary(event: HistoryEvent) -> str:
    if not event.HasField("user_metadata") or not event.user_metadata.HasField("summary"):
        return ""
    text: str = pydantic_data_converter.payload_converter.from_payload(
        event.user_metadata.summary, str)
    return text


def _label(kind: str, summary: str) -> str:
    return f"{kind} ({summary})" if summary else kind
