"""Asks an OpenAI-compatible model for the actions of a request, as structured output.

The SDK's own retries are off (`max_retries=0`): Temporal retries the plan activity,
so every attempt shows in the history. Only unreadable answers are asked again here,
a bounded number of times, since the service did answer and asking again at once is
cheap; after that the failure is a retryable one (the planner first lets the offline
rules try).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import openai
import pydantic
from openai.types.chat import ChatCompletionMessageParam

from orchestrator.errors import TransientFailure
from orchestrator.planning.llm.answer import PlanningAnswer
from orchestrator.planning.llm.errors import UnreadableAnswer, from_api_error
from orchestrator.planning.llm.prompt import reread_message
from orchestrator.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# A server behind `openai_base_url` may need no key, but the SDK insists on one.
NO_KEY = "none"
# Schema errors reported back to the model: the first few say enough.
MAX_ERRORS = 3


class PlanningModel(Protocol):
    async def ask(self, messages: list[ChatCompletionMessageParam]) -> PlanningAnswer: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ModelOptions:
    model: str
    temperature: float
    timeout_s: float
    max_unreadable: int


class OpenAiPlanningModel:
    def __init__(self, client: openai.AsyncOpenAI, options: ModelOptions) -> None:
        self._client = client
        self._options = options

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAiPlanningModel:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else NO_KEY
        # Key and address passed explicitly, so the SDK never reads its own
        # environment variables for them: settings are the one source.
        client = openai.AsyncOpenAI(
            api_key=key, base_url=settings.openai_base_url or DEFAULT_BASE_URL,
            timeout=settings.openai_timeout_s, max_retries=0,
        )
        return cls(client, ModelOptions(
            model=settings.openai_model, temperature=settings.openai_temperature,
            timeout_s=settings.openai_timeout_s, max_unreadable=settings.openai_max_unreadable,
        ))

    async def close(self) -> None:
        await self._client.close()

    async def ask(self, messages: list[ChatCompletionMessageParam]) -> PlanningAnswer:
        """The model's answer; raises a core error saying whether to try again."""
        conversation = list(messages)
        problem = ""
        for attempt in range(1, self._options.max_unreadable + 1):
            answer, problem = await self._ask_once(conversation)
            if answer is not None:
                return answer
            log.warning("unreadable answer from the model (%d of %d): %s",
                        attempt, self._options.max_unreadable, problem)
            # The unreadable answer itself is not echoed: the SDK does not hand it
            # back when parsing fails, and what was wrong with it says enough.
            conversation = [*messages, reread_message(problem)]
        raise UnreadableAnswer(
            f"the model's answer could not be read {self._options.max_unreadable} times; "
            f"last: {problem}"
        )

    async def _ask_once(
        self, messages: list[ChatCompletionMessageParam]
    ) -> tuple[PlanningAnswer | None, str]:
        """The answer, or None and why it could not be read."""
        try:
            completion = await self._client.chat.completions.parse(
                model=self._options.model, messages=messages,
                response_format=PlanningAnswer, temperature=self._options.temperature,
            )
        except openai.APIError as error:
            raise from_api_error(error, self._options.timeout_s) from error
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as error:
            return None, str(error)
        except pydantic.ValidationError as error:
            return None, _schema_errors(error)
        except (ValueError, AttributeError, TypeError) as error:
            # Not the model's answer but the service's: a body that is no chat
            # completion at all (a proxy's error page, cut-off JSON). Like a 502,
            # worth another try, and on the last the rules plan instead.
            raise TransientFailure(
                f"the model service at {self._client.base_url} answered with something "
                f"that is not a chat completion ({type(error).__name__}: "
                f"{str(error)[:200]}): is that the address of an OpenAI-compatible API "
                "(ORCHESTRATOR_OPENAI_BASE_URL; it often ends in /v1)?"
            ) from error
        if not completion.choices:
            return None, "the answer has no choices"
        message = completion.choices[0].message
        if message.refusal:
            return None, f"the model refused: {message.refusal}"
        if message.parsed is None:
            return None, "the answer is empty"
        return message.parsed, ""


def _schema_errors(error: pydantic.ValidationError) -> str:
    found = [
        f"{'.'.join(str(part) for part in e['loc']) or 'answer'}: {e['msg']}"
        for e in error.errors(include_input=False)[:MAX_ERRORS]
    ]
    return "; ".join(found)
