"""Arguments a clause says in words rather than as `key=value`.

Once a clause's tool is known, its words are read against the tool's parameters,
first rule first:
1. "it", "my app" (my/our/this + a kind): a reference, resolved later from an
   earlier step or the graph (`tool_subject`);
2. "called X", "named X": X is the parameter the noun before names ("the channel
   called ops"), else the tool's `name`;
3. "for X": X is the tool's `name` ("a repository for shop");
4. a free word next to a noun: the noun names a parameter ("the releases channel",
   "cluster prod") or the object of the tool (`create_repository`: "repository
   shop", "shop repository"), whose `name` it is;
5. a free word after "to", "in", "on", "at" or "into", when the tool's description
   says that preposition before a parameter ("Deploy ... to a cluster");
6. a free word that exactly one unset parameter's schema accepts (a pattern, an
   enum, a format or a number): "eu-west-1" is the `region`;
7. a free word shaped like a path ("notes.txt", "docs/a.md") is the value of the
   tool's one unset path parameter (`path`, `file`, `*_path`);
8. the words after "with" that the tool does not know ("write file notes.txt
   with hello world") are the value of its one unset text parameter (`text`,
   `message`, `body`, `content`).
A free word is one the tool's name and description do not know and no stop word.
Two values for one parameter, or one value two parameters could take, are not
guessed between: the clause is reported, naming both.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from orchestrator.planning.tool_match import ToolEntry, singular, typed, word_forms

# A value keeps its dots, dashes and slashes ("eu-west-1", "v1.2", "team/app").
_TOKEN = re.compile(r"[^\s,;!?\"'()]+")
_NAMING = frozenset({"called", "named"})
_PREPOSITIONS = frozenset({"to", "in", "on", "at", "into"})
_ARTICLES = frozenset({"a", "an", "the"})
_OWNERS = frozenset({"my", "our", "this"})
_PLACES = frozenset({"on", "in", "to", "into", "at", "for", "from"})
# Short forms people use for kinds of entity.
KIND_ALIASES = {"app": "application", "env": "environment", "svc": "service",
                "repo": "repository"}
# A slash, or a file name's extension (a letter first: "v1.2" is a version).
_PATH_SHAPED = re.compile(r"/|\.[A-Za-z][A-Za-z0-9]{0,7}$")
_PATH_PARAM = re.compile(r"^(path|file|filename)$|_path$")
# Parameters that carry a text: a message's, a file's.
TEXT_PARAMS = frozenset({"text", "message", "body", "content"})
_DESCRIBED_PLACE = re.compile(r"\b(to|in|on|at|into)\s+(?:a|an|the)\s+([a-z_]+)")


class Unclear(ValueError):
    """The clause's words give a parameter two values, or a value two parameters."""


@dataclass
class Said:
    # Values by parameter: the `key=value` pairs, then what the words gave.
    values: dict[str, str]
    # "it" or "my <kind>", when the clause refers to something.
    reference: str | None
    # The words not taken as values or a reference: all must be the tool's own.
    rest: str


def kind_of(word: str) -> str:
    """The entity kind a word (a noun, a parameter's name) names: singular, short
    forms spelled out."""
    word = word.lower()
    single = singular(word)
    return KIND_ALIASES.get(word, KIND_ALIASES.get(single, single))


@dataclass
class _Token:
    raw: str
    low: str
    used: bool = False


class _Reader:
    def __init__(self, text: str, entry: ToolEntry, given: dict[str, str], kinds: set[str]):
        self.tokens = [
            _Token(t.strip(".:").lstrip("#"), t.strip(".:").lstrip("#").lower())
            for t in _TOKEN.findall(text)
        ]
        self.tokens = [t for t in self.tokens if t.raw]
        self.entry = entry
        self.kinds = kinds
        schema = entry.capability.input_schema
        self.params: dict[str, Any] = {
            k: v if isinstance(v, dict) else {} for k, v in schema.get("properties", {}).items()}
        self.values = dict(given)
        self.known = entry.name_words | entry.description_words
        tool = entry.capability.source.tool if entry.capability.source else ""
        parts = re.findall(r"[A-Za-z][a-z]*|[A-Z]+(?![a-z])", tool)
        # The thing a tool acts on is the last word of a verb-noun name.
        self.object = kind_of(parts[-1]) if len(parts) > 1 else None
        self.places = {prep: param for prep, word in
                       _DESCRIBED_PLACE.findall(entry.capability.description.lower())
                       if (param := self._param(word)) is not None}

    def _param(self, word: str) -> str | None:
        for name in self.params:
            if word in (name.lower(), singular(name.lower())) or kind_of(word) == kind_of(name):
                return name
        return None

    def free(self, at: int) -> bool:
        if not 0 <= at < len(self.tokens):
            return False
        token = self.tokens[at]
        if token.used or token.low in _NAMING or self._param(token.low) is not None:
            return False
        forms = word_forms(token.raw)
        return bool(forms) and any(not f & self.known for f in forms.values())

    def put(self, param: str, at: int) -> None:
        value = self.tokens[at].raw
        if self.values.get(param, value) != value:
            raise Unclear(f"both {self.values[param]!r} and {value!r} could be its {param}")
        self.values[param] = value
        self.tokens[at].used = True

    def noun_param(self, at: int) -> str | None:
        """The parameter the noun at `at` names: its own, or `name` for the object."""
        if not 0 <= at < len(self.tokens):
            return None
        low = self.tokens[at].low
        param = self._param(low)
        if param is not None:
            return param
        if kind_of(low) == self.object and "name" in self.params:
            return "name"
        return None


def read_said(
    text: str, entry: ToolEntry, given: dict[str, str], kinds: set[str]
) -> Said:
    """The clause's values for `entry`'s tool (see the module's rules)."""
    r = _Reader(text, entry, given, kinds)
    reference = _reference(r)
    tokens = r.tokens
    for i, token in enumerate(tokens):
        if token.low in _NAMING and i + 1 < len(tokens):
            param = r.noun_param(i - 1) if i else None
            param = param or ("name" if "name" in r.params else None)
            if param is None:
                raise Unclear(f"{entry.capability.name} has nothing to be "
                              f"{token.low} {tokens[i + 1].raw!r}")
            r.put(param, i + 1)
            token.used = True
        elif token.low == "for" and "name" in r.params and r.free(i + 1):
            r.put("name", i + 1)
            token.used = True
    for i, token in enumerate(tokens):
        param = r.noun_param(i)
        if param is None or token.used:
            continue
        around = [j for j in (i - 1, i + 1) if r.free(j)]
        if len(around) > 1:
            raise Unclear(f"both {tokens[around[0]].raw!r} and {tokens[around[1]].raw!r} "
                          f"could be its {param}")
        if around:
            r.put(param, around[0])
        # The noun is accounted for: the tool's own word, or a parameter's name.
        token.used = True
    for i, token in enumerate(tokens):
        if token.low in r.places:
            after = i + 2 if i + 1 < len(tokens) and tokens[i + 1].low in _ARTICLES else i + 1
            if r.free(after) and _accepts(r.params[r.places[token.low]], tokens[after].raw):
                r.put(r.places[token.low], after)
    _text_after_with(r)
    unclear: list[str] = []
    for i, token in enumerate(tokens):
        if not r.free(i):
            continue
        fits = sorted(p for p, s in r.params.items()
                      if p not in r.values and _constrained(s) and _accepts(s, token.raw))
        if len(fits) > 1:
            unclear.append(f"{token.raw!r} could be its {fits[0]} or its {fits[1]}; "
                           f"say {fits[0]}={token.raw} or {fits[1]}={token.raw}")
        elif fits:
            r.put(fits[0], i)
        elif _PATH_SHAPED.search(token.raw):
            paths = [p for p in r.params if p not in r.values and _PATH_PARAM.search(p)]
            if len(paths) == 1:
                r.put(paths[0], i)
    # Words no rule placed mean the tool may be the wrong one: those are told first.
    if unclear and len([i for i in range(len(tokens)) if r.free(i)]) == len(unclear):
        raise Unclear(unclear[0])
    rest = " ".join(t.raw for t in tokens if not t.used)
    return Said(r.values, reference, rest)


def _text_after_with(r: _Reader) -> None:
    """Rule 8: "with" and what follows, when the tool knows none of it, is its text
    (stop words may be among it: "with hello to the team")."""
    at = next((i for i, t in enumerate(r.tokens) if t.low == "with" and not t.used), None)
    if at is None:
        return
    after = range(at + 1, len(r.tokens))
    if not any(r.free(j) for j in after) or not all(
            r.free(j) or not word_forms(r.tokens[j].raw) for j in after):
        return
    texts = [p for p, s in r.params.items() if p in TEXT_PARAMS and p not in r.values
             and s.get("type", "string") == "string"]
    if len(texts) == 1:
        r.values[texts[0]] = " ".join(r.tokens[j].raw for j in after)
        for j in range(at, len(r.tokens)):
            r.tokens[j].used = True


def split_reference(text: str, kinds: set[str]) -> tuple[str, str]:
    """The text without its "my <kind>" references, and those references' kind
    words, read as `_reference` reads them; a kind named where the step acts ("on
    repository shop", "to cluster prod") is a word of what the step is given too,
    not of the tool: "create branch x on repository shop" is `create_branch`."""
    words = [w for w in (t.strip(".:").lstrip("#") for t in _TOKEN.findall(text)) if w]
    kept: list[str] = []
    referred: list[str] = []
    i = 0
    while i < len(words):
        if i + 1 < len(words) and _refers(words[i], words[i + 1], kinds):
            referred.append(words[i + 1])
            i += 2
        elif i + 2 < len(words) and _names_a_place(words[i], words[i + 1], kinds):
            kept.append(words[i])
            referred.append(words[i + 1])
            i += 2
        else:
            kept.append(words[i])
            i += 1
    return " ".join(kept), " ".join(referred)


def _names_a_place(word: str, then: str, kinds: set[str]) -> bool:
    """"on repository", "to cluster": a place word, then a known kind (its name next)."""
    return word.lower() in _PLACES and kind_of(then.lower()) in kinds


def _refers(word: str, then: str, kinds: set[str]) -> bool:
    """"my app", "our cluster", "this repo": an owner word, then a known kind."""
    return word.lower() in _OWNERS and kind_of(then.lower()) in kinds


def _reference(r: _Reader) -> str | None:
    found: list[str] = []
    for i, token in enumerate(r.tokens):
        if token.low == "it":
            token.used = True
            found.append("it")
        elif i + 1 < len(r.tokens) and _refers(token.low, r.tokens[i + 1].low, r.kinds):
            token.used = r.tokens[i + 1].used = True
            found.append(f"{token.low} {r.tokens[i + 1].low}")
    if len(found) > 1:
        raise Unclear(f"it refers to {' and '.join(map(repr, found))}; name one")
    return found[0] if found else None


def read_goal(text: str, known: frozenset[str], kinds: set[str]) -> tuple[str | None, str | None]:
    """What the request's goal ("deploy shop using ...") is about: a reference ("my
    app") or the one free word of it; (None, None) when it says neither or several."""
    tokens = [t.strip(".:") for t in _TOKEN.findall(text)]
    lows = [t.lower() for t in tokens]
    for i, low in enumerate(lows):
        if low == "it":
            return "it", None
        if low in _OWNERS and i + 1 < len(lows) and kind_of(lows[i + 1]) in kinds:
            return f"{low} {lows[i + 1]}", None
    free = [t for t in tokens
            if (forms := word_forms(t)) and all(not f & known for f in forms.values())]
    return None, free[0] if len(free) == 1 else None


def _constrained(schema: dict[str, Any]) -> bool:
    return bool({"pattern", "enum", "const", "format"} & set(schema)) or schema.get(
        "type") in ("integer", "number", "boolean")


def _accepts(schema: dict[str, Any], value: str) -> bool:
    return bool(_validator(json.dumps(schema, sort_keys=True)).is_valid(typed(value, schema)))


@functools.lru_cache(maxsize=256)
def _validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)
