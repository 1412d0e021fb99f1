"""Pure helpers over a plan's step graph: order, stages and output references.

No I/O, clocks or randomness: everything here runs inside workflow code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.models import STEP_REFERENCE as REFERENCE
from orchestrator.models import Step


class PlanProblem(ValueError):
    """The plan cannot run as written; the message names the step and field."""


def stages(steps: Sequence[Step]) -> list[list[str]]:
    """Steps grouped by the earliest moment they can run; raises on a cycle."""
    ids = {s.id for s in steps}
    if len(ids) != len(steps):
        dupes = sorted({s.id for s in steps if [t.id for t in steps].count(s.id) > 1})
        raise PlanProblem(f"duplicate step ids: {', '.join(dupes)}")
    waiting = {s.id: set(s.depends_on) for s in steps}
    for step_id, deps in sorted(waiting.items()):
        unknown = sorted(deps - ids)
        if unknown:
            raise PlanProblem(f"step {step_id}: depends_on names unknown steps {unknown}")
    result: list[list[str]] = []
    done: set[str] = set()
    while waiting:
        ready = sorted(i for i, deps in waiting.items() if deps <= done)
        if not ready:
            raise PlanProblem(f"dependency cycle among steps {sorted(waiting)}")
        result.append(ready)
        done.update(ready)
        for i in ready:
            del waiting[i]
    return result


def ancestors(steps: Sequence[Step], step_id: str) -> set[str]:
    """Every step that `step_id` depends on, directly or not."""
    by_id = {s.id: s for s in steps}
    seen: set[str] = set()
    todo = list(by_id[step_id].depends_on)
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(by_id[current].depends_on)
    return seen


def references(value: Any) -> set[str]:
    """Ids of the steps whose outputs a parameter value refers to."""
    if isinstance(value, str):
        return {m.group(1) for m in REFERENCE.finditer(value)}
    if isinstance(value, Mapping):
        return set().union(*(references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(references(v) for v in value)) if value else set()
    return set()


def resolve(value: Any, outputs: Mapping[str, Mapping[str, Any]]) -> Any:
    """Replace references with the outputs they name.

    A value that is one whole reference takes the referenced value with its
    type; a reference inside a longer string is formatted into it.
    """
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value)
        if whole:
            return _lookup(outputs, whole.group(1), whole.group(2))
        return REFERENCE.sub(lambda m: str(_lookup(outputs, m.group(1), m.group(2))), value)
    if isinstance(value, Mapping):
        return {k: resolve(v, outputs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, outputs) for v in value]
    return value


def _lookup(outputs: Mapping[str, Mapping[str, Any]], step_id: str, path: str) -> Any:
    if step_id not in outputs:
        raise PlanProblem(f"reference to step {step_id!r}, which has no output")
    current: Any = outputs[step_id]
    for part in path.split(".")[1:]:
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise PlanProblem(f"output of step {step_id!r} has no {path[1:]!r}")
    return current
