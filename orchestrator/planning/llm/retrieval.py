"""Which capabilities to show the model: the few most relevant to the request.

The catalogue may hold hundreds of MCP tools; sending all of them would cost tokens,
dilute the model's attention and widen what a hostile tool description can reach.
Relevance is a plain lexical score, so the same request always gets the same
capabilities: each word the request shares with a capability counts, weighted by
where it appears (name and produced kinds above description) and by how rare it is
across the catalogue (a word in every tool's name, such as "create", says little).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from orchestrator.models import Capability
from orchestrator.planning.parser import ENVIRONMENTS, KINDS

_WORD_RE = re.compile(r"[a-z0-9]+")
# Too common in requests and descriptions to tell capabilities apart.
_STOP = frozenset({
    "a", "an", "and", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "its",
    "of", "on", "or", "the", "then", "to", "with", "when", "what", "which", "that", "this",
    "please", "my", "me", "we", "i", "new", "one", "all", "some", "does", "not", "up",
})  # fmt: skip
WEIGHTS = {"name": 3.0, "produces": 3.0, "consumes": 1.5, "description": 1.0}
# Two stems this long or longer match when one begins the other ("deploy", "deployment").
MIN_PREFIX = 4
# A capability scoring below this share of the best one is left out.
MIN_SHARE = 0.25


def stems(text: str) -> set[str]:
    """Lowercase word stems: a crude suffix strip, enough for plurals and -ing/-ed."""
    found: set[str] = set()
    for word in _WORD_RE.findall(text.lower()):
        if word in _STOP:
            continue
        for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("s", "")):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
                word = word[: -len(suffix)] + replacement
                break
        found.add(word)
    return found


def _matches(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return len(short) >= MIN_PREFIX and long.startswith(short)


def _fields(capability: Capability) -> dict[str, set[str]]:
    return {
        "name": stems(capability.name.replace(".", " ").replace("_", " ").replace("-", " ")),
        "produces": stems(" ".join(capability.produces).replace("_", " ")),
        "consumes": stems(" ".join(capability.consumes).replace("_", " ")),
        "description": stems(capability.description),
    }


def relevant_capabilities(
    request: str, capabilities: Iterable[Capability], limit: int
) -> list[Capability]:
    """The plannable capabilities (those producing something: only they can be the
    target of an action) that share enough with the request, best first, at most
    `limit`; ties go by name so the answer is stable."""
    plannable = [c for c in capabilities if c.produces]
    fields = {c.name: _fields(c) for c in plannable}
    document_frequency: Counter[str] = Counter()
    for by_field in fields.values():
        document_frequency.update(set().union(*by_field.values()))
    words = stems(request)
    # The rules' short forms ("app", "env", "prod") count as the words they stand for.
    words |= stems(" ".join(KINDS.get(w) or ENVIRONMENTS.get(w, "") for w in words))
    total = len(plannable)
    scored: list[tuple[float, str, Capability]] = []
    for capability in plannable:
        score = 0.0
        for word in words:
            for field, field_stems in fields[capability.name].items():
                hits = [s for s in field_stems if _matches(word, s)]
                if hits:
                    rarest = min(document_frequency[s] for s in hits)
                    score += WEIGHTS[field] * math.log(1 + total / rarest)
        if score > 0:
            scored.append((-score, capability.name, capability))
    if not scored:
        # Nothing shares a word ("an online store with a shopping cart"): reading the
        # request in other words is the model's job, so it sees the built-in
        # capabilities (tools are too many to guess from).
        return sorted((c for c in plannable if c.source is None), key=lambda c: c.name)[:limit]
    best = -min(scored)[0]
    # Far below the best means it matched only common words ("create" in a catalogue
    # full of create_* tools): noise that would crowd the prompt.
    return [c for negative, _, c in sorted(scored)[:limit] if -negative >= best * MIN_SHARE]
