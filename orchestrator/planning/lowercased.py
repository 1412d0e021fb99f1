"""Names the request wrote with capitals, as the plan uses them: names are
lowercase (they become deployment and resource names), and a user who wrote
`Shop` should be told the application is `shop` rather than find out later."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from orchestrator.models import Step

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def lowercased_names(message: str, steps: Sequence[Step]) -> list[str]:
    """'Shop' is named 'shop', once per name, in the order the request wrote them."""
    values = {v for step in steps for v in _strings(step.parameters)}
    told: list[str] = []
    for word in _WORD.findall(message):
        named = word.lower()
        note = f"'{word}' is named '{named}': names are lowercase"
        if word != named and named in values and note not in told:
            told.append(note)
    return told


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
