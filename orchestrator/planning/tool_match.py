"""Which MCP tool a piece of a request asks for, by the words it shares with the
tools' names and descriptions: no tool name is known in advance.

A clause that says a server's configured name ("github") chooses among that
server's tools only. A tool's score for a clause is, in points, 2 for each clause
word in the tool's name and 1 for each in its description, plus half of that for
the words of the request's goal ("deploy my app using ..."). A word counts once
in each place, however many of its forms match there: "show" (also "get")
scores about 2, not 4, in `git_show`'s name, so "show the git log" is `git_log`.
Each further form matched adds an eighth, only enough to break ties ("notify" is
`post_message` rather than `delete_message`). A clause that says every word of a
tool's own name gets 2 points more: "fs read file" is `read_file`, not one of
`read_text_file`, `read_media_file`, `read_multiple_files`, and "fs list directory"
is `list_directory`, though `list_allowed_directories` says "list" and
"directories" in its description too.
The kind in a reference ("my repo") names what the step is given, not the tool:
it scores 1 point wherever the tool knows it, never 2 ("create branch feature on
my repo" is `create_branch`, though `create_repository` has "repository" in its
name). Words are compared lowercased, singular, with a few common synonyms folded
together ("notify" is "message"). The best-scoring tool wins; a clause that shares
no word with any tool's name or description, or that two tools fit equally well,
is not planned but reported. A clause may also say words of the tool's parameter
names ("the repo" of `repo_path`): they score nothing, but the tool knows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.models import Capability

NAME_POINTS = 2.0
DESCRIPTION_POINTS = 1.0
EXTRA_FORM_SHARE = 0.125
WHOLE_NAME_POINTS = 2.0
GOAL_SHARE = 0.5

# `key=value` (the value may be quoted): an argument given in the request.
ARGUMENT = re.compile(r"""([A-Za-z_][A-Za-z0-9_-]*)=("[^"]*"|'[^']*'|[^\s,]+)""")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]|[A-Za-z0-9]")
_WORD = re.compile(r"[A-Za-z][a-z]*|[A-Z]+(?![a-z])|[0-9]+")
STOP_WORDS = frozenset({
    "a", "an", "the", "to", "of", "in", "on", "for", "and", "or", "my", "our", "your",
    "it", "its", "is", "be", "with", "by", "from", "into", "as", "at", "this", "that",
    "please", "using", "use", "via", "then", "me", "i", "we", "all", "any", "one",
    "if", "not", "e", "g", "eg",
})  # fmt: skip
# General words people use for what tools call otherwise (not names of tools).
_TELL = ("post", "message")
SYNONYMS: dict[str, tuple[str, ...]] = {
    "notify": _TELL, "notification": _TELL, "alert": _TELL, "announce": _TELL,
    "announcement": _TELL, "send": ("post",), "repo": ("repository",),
    "ship": ("deploy",), "release": ("deploy",), "rollout": ("deploy",),
    "remove": ("delete",), "make": ("create",), "new": ("create",), "show": ("get",),
    "read": ("get",),
}  # fmt: skip


def word_forms(text: str) -> dict[str, set[str]]:
    """Each word of the text (camelCase, snake_case and kebab-case split; stop words
    out) with the forms it matches: itself, singular, and its synonyms."""
    found: dict[str, set[str]] = {}
    for raw in _WORD.findall(text):
        word = singular(raw.lower())
        if word not in STOP_WORDS:
            found[raw.lower()] = {word, *SYNONYMS.get(word, ())}
    return found


def words(text: str) -> set[str]:
    """Every form of every word of the text."""
    return set().union(*word_forms(text).values())


WordForms = tuple[frozenset[str], ...]


def said_words(text: str) -> WordForms:
    """The forms of each word of the text, word by word, for scoring."""
    return tuple(frozenset(forms) for forms in word_forms(text).values())


def unknown_words(text: str, entry: ToolEntry) -> list[str]:
    """Words of the text that neither the tool's name nor its description has: a
    clause is planned only when the tool accounts for all it says."""
    known = entry.name_words | entry.description_words | entry.parameter_words
    return sorted(word for word, forms in word_forms(text).items() if not forms & known)


def unknown_told(text: str, nearest: ToolEntry, entries: Sequence[ToolEntry],
                 server: str | None) -> str:
    """Why the nearest tool cannot take the text: the words no tool (of `server`,
    when one is named) knows, and those other tools know, with which."""
    unknown = unknown_words(text, nearest)
    candidates = [e for e in entries if server is None or e.server == server]
    parts, nobody = [], []
    for word in unknown:
        # A number in a description ("indented 2 spaces") is no hint of the tool.
        knowing = [e.capability.name for e in candidates
                   if any(c.isalpha() for c in word) and not unknown_words(word, e)]
        if knowing:
            parts.append(f"{word!r} is a word of {', '.join(sorted(knowing)[:3])}")
        else:
            nobody.append(word)
    if nobody:
        parts.insert(0, f"no tool knows {', '.join(map(repr, nobody))}")
    return f"{'; '.join(parts)} (the nearest is {nearest.capability.name})"


def singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@dataclass(frozen=True)
class ToolEntry:
    """A capability a server's tool provides, with the words it is known by."""

    capability: Capability
    server: str
    name_words: frozenset[str]
    description_words: frozenset[str]
    parameter_words: frozenset[str] = frozenset()
    # The words of the tool's own name ("read_file": read, file), each with its forms.
    tool_words: WordForms = ()


def tool_entries(capabilities: Iterable[Capability]) -> list[ToolEntry]:
    entries = []
    for c in capabilities:
        if c.source is None:
            continue
        entries.append(ToolEntry(
            capability=c, server=c.source.server,
            name_words=frozenset(words(c.source.tool) | words(c.name.removeprefix("mcp."))),
            description_words=frozenset(words(c.description)),
            parameter_words=frozenset(words(" ".join(c.input_schema.get("properties", {})))),
            tool_words=said_words(c.source.tool),
        ))
    return entries


@dataclass(frozen=True)
class Match:
    entry: ToolEntry
    score: float


class NoMatch(ValueError):
    """No tool, or more than one equally, fits the clause; the message says which."""


class Tie(NoMatch):
    """More than one tool fits the clause equally."""


def best_tool(
    clause: WordForms, goal: WordForms, entries: Sequence[ToolEntry], server: str | None,
    given: WordForms = (), text: str = "",
) -> Match:
    """The tool the clause asks for, among `server`'s tools when one is named;
    `given`: the words of the clause's reference."""
    candidates = [e for e in entries if server is None or e.server == server]
    scored = sorted(
        (Match(e, _score(clause, e) + GOAL_SHARE * _score(goal, e) + _given(given, e))
         for e in candidates),
        key=lambda m: (-m.score, m.entry.capability.name),
    )
    useful = [m for m in scored if m.score > 0]
    if not useful:
        if not candidates and server is None:
            raise NoMatch("no MCP server is configured (orchestrator mcp add adds one)")
        where = f"MCP server {server!r}" if server else "any MCP server"
        # Of any server, each tool with its server's name ("server_status" alone,
        # three times over, said nothing).
        offered = ", ".join(sorted({
            e.capability.source.tool if server else
            f"{e.capability.source.server}.{e.capability.source.tool}"
            for e in candidates if e.capability.source})) or "nothing"
        raise NoMatch(f"no tool of {where} fits (it offers: {offered})")
    if len(useful) > 1 and useful[1].score == useful[0].score:
        tied = [m.entry for m in useful if m.score == useful[0].score]
        # A word none of them knows ("frobnicate") is likely why none stands out.
        unknown = [w for w in word_forms(text)
                   if all(w in unknown_words(w, entry) for entry in tied)]
        told = f"; no tool knows {', '.join(map(repr, unknown))}" if unknown else ""
        raise Tie(f"several tools fit equally well: "
                      f"{', '.join(e.capability.name for e in tied)}{told}; say which")
    return useful[0]


def _score(said: WordForms, entry: ToolEntry) -> float:
    points = sum(_points(forms, entry.name_words, NAME_POINTS)
                 + _points(forms, entry.description_words, DESCRIPTION_POINTS)
                 for forms in said)
    return points + WHOLE_NAME_POINTS * _says_whole_name(said, entry)


def _says_whole_name(said: WordForms, entry: ToolEntry) -> bool:
    every = frozenset().union(*said) if said else frozenset()
    return bool(entry.tool_words) and all(forms & every for forms in entry.tool_words)


def _given(said: WordForms, entry: ToolEntry) -> float:
    known = entry.name_words | entry.description_words
    return sum(_points(forms, known, DESCRIPTION_POINTS) for forms in said)


def _points(forms: frozenset[str], known: frozenset[str], points: float) -> float:
    """A word's points in one place (name, description), whichever forms match."""
    matched = len(forms & known)
    return points * (1 + EXTRA_FORM_SHARE * (matched - 1)) if matched else 0.0


def named_server(text: str, entries: Sequence[ToolEntry]) -> tuple[str | None, str]:
    """The server whose name the text says as a whole word (the first said, if
    several), and the text without it."""
    servers = {e.server.lower(): e.server for e in entries}
    for token in _TOKEN.findall(text):
        if token.lower() in servers:
            rest = re.sub(rf"(?i)(?<![\w-]){re.escape(token)}(?![\w-])", " ", text, count=1)
            return servers[token.lower()], rest
    return None, text


def split_arguments(text: str) -> tuple[str, dict[str, str]]:
    """The text without its `key=value` pairs, and the pairs (quotes removed)."""
    found = {k: v[1:-1] if v[:1] in "\"'" else v for k, v in ARGUMENT.findall(text)}
    return ARGUMENT.sub(" ", text), found


def typed(value: str, schema: dict[str, Any]) -> Any:
    """A request's text value as the type the parameter's schema asks for."""
    kinds = schema.get("type")
    options = kinds if isinstance(kinds, list) else [kinds]
    if "integer" in options and re.fullmatch(r"-?\d+", value):
        return int(value)
    if "number" in options and re.fullmatch(r"-?\d+(\.\d+)?", value):
        # A whole number stays one (as JSON says it): "steps=3" is 3, not 3.0.
        return int(value) if re.fullmatch(r"-?\d+", value) else float(value)
    if "boolean" in options and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value
