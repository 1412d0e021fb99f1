"""Plans over MCP tools and built-in agents together, offline.

A request such as "deploy shop using github create repository called shop ->
aws provision cluster prod in eu-west-1, deploy it -> slack notify #ops" is read
as links (split at `->`, `→` or "then"), each made of clauses (split at "," and
"and"). A link the rules of the built-in agents read whole is planned by them;
every other clause is matched to a tool by its words (`tool_match`). Its
arguments are its `key=value` pairs and what its words say (`tool_values`);
those of the goal, before "using", go to every tool that takes them. What is
still unset comes from earlier steps, the tool's configured defaults, what "it"
or the goal refers to, and the graph (`tool_binding`).

The order of steps comes from three things: a step whose required input another
step's output gives (by the property's name in the tool's output schema, or by a
kind one produces and the other consumes) takes it from there and waits for it;
a step waits for every step producing a kind it consumes; and a link waits for
the link before it, except that read-only steps never wait for read-only steps.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import CannotPlan
from orchestrator.graph.store import GraphStore
from orchestrator.models import AgentStats, Capability, Compensation, Plan, Step
from orchestrator.planning.parser import Action, parse_request
from orchestrator.planning.synthesis import Synthesiser, assign_agents
from orchestrator.planning.tool_binding import Binder, RequestFacts
from orchestrator.planning.tool_flow import (
    MAX_ID,
    STRUCTURED,
    UNCHOSEN,
    ToolDraft,
    add_depends_on,
    depends_on,
    read_only,
    step_id,
    undo_parameters,
    unique_id,
    upstream,
)
from orchestrator.planning.tool_made import made
from orchestrator.planning.tool_match import (
    NoMatch,
    Tie,
    ToolEntry,
    WordForms,
    best_tool,
    named_server,
    said_words,
    split_arguments,
    tool_entries,
    unknown_told,
    unknown_words,
    words,
)
from orchestrator.planning.tool_subject import entity_kinds, goal_subject
from orchestrator.planning.tool_values import Unclear, read_goal, read_said, split_reference

CHAIN = re.compile(r"\s*(?:->|→|\bthen\b)\s*", re.IGNORECASE)
CLAUSE = re.compile(r"\s*(?:,|\band\b)\s*", re.IGNORECASE)
USING = re.compile(r"\busing\b", re.IGNORECASE)


@dataclass
class _Reading:
    """What the request was read as, link by link."""

    goal_words: WordForms
    goal_arguments: dict[str, str]
    # What the goal is about: a reference ("my app") or a name ("deploy shop").
    goal_reference: str | None = None
    goal_name: str | None = None
    actions: list[tuple[int, Action]] = field(default_factory=list)
    tools: list[ToolDraft] = field(default_factory=list)
    # What was understood, by (link, place in the link): told in the request's order.
    said: list[tuple[int, int, str]] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)
    # A link several tools fit equally: the request was a tool call, said ambiguously.
    tied: bool = False

    @property
    def understood(self) -> list[str]:
        return [text for _, _, text in sorted(self.said)]


class ToolsTied(CannotPlan):
    """A refusal asking which of several tools that fit a link equally was meant."""


class ToolPlanner:
    def __init__(self, registry: AgentRegistry, store: GraphStore) -> None:
        self._registry = registry
        self._store = store
        self._synthesiser = Synthesiser(registry, store)

    def wants(self, message: str) -> bool:
        """Whether the request chains links with arrows, gives `key=value` arguments
        (only tools take them) or names an MCP server."""
        if "->" in message or "→" in message or split_arguments(message)[1]:
            return True
        return named_server(message, tool_entries(self._registry.capabilities))[0] is not None

    def servers(self) -> list[str]:
        """The MCP servers whose tools the catalogue holds, by name."""
        return sorted({c.source.server for c in self._registry.capabilities if c.source})

    async def plan(self, message: str) -> Plan:
        reading = self._read(message)
        if reading.not_understood:
            refused = ToolsTied if reading.tied else CannotPlan
            raise refused("part of the request matches no tool or agent",
                          reading.understood, reading.not_understood)
        platform = await self._platform_steps(message, reading)
        stats = await self._store.agent_stats()
        links = {s.id: link for link, ids in platform.items() for s in ids}
        steps = [s for group in platform.values() for s in group]
        earlier: list[tuple[int, Step | ToolDraft]] = [(links[s.id], s) for s in steps]
        subject = await goal_subject(reading.goal_reference, reading.goal_name, earlier,
                                     self._registry, self._store, reading.understood)
        facts = RequestFacts(reading.goal_arguments, subject, reading.understood)
        binder = Binder(self._registry, self._store)
        for draft in reading.tools:
            await binder.bind(draft, facts, earlier)
            earlier.append((draft.link, draft))
        await self._drop_made(reading)
        self._chain(reading, steps)
        steps += [self._step(d, stats) for d in reading.tools]
        return Plan(intent="; ".join(reading.understood), request=message, steps=steps)

    def _read(self, message: str) -> _Reading:
        links = [link for link in CHAIN.split(message.strip()) if link.strip()]
        goal = ""
        if links and USING.search(links[0]):
            goal, links[0] = USING.split(links[0], maxsplit=1)
        goal_text, goal_arguments = split_arguments(goal)
        reading = _Reading(said_words(goal_text), goal_arguments)
        entries = tool_entries(self._registry.capabilities)
        known = frozenset().union(*(e.name_words | e.description_words | words(e.server)
                                    for e in entries))
        kinds = entity_kinds(self._registry)
        reading.goal_reference, reading.goal_name = read_goal(goal_text, known, kinds)
        for index, link in enumerate(links):
            _, arguments = split_arguments(link)
            # A link that gives arguments or names a server ("deploy it to aws") is
            # the tools', though the built-in rules might read it too.
            ours = not arguments and named_server(link, entries)[0] is None
            parsed = parse_request(link) if ours else None
            if parsed is not None and parsed.actions and not parsed.not_understood:
                reading.actions += [(index, a) for a in parsed.actions]
                reading.said += [(index, -1, f"{a.verb} {a.kind} {a.name}")
                                 for a in parsed.actions]
                continue
            self._read_tools(index, link, entries, reading)
        self._choose_by_flow(reading, entries)
        reading.tools = [d for d in reading.tools if d.capability is not UNCHOSEN]
        return reading

    def _read_tools(
        self, index: int, link: str, entries: list[ToolEntry], reading: _Reading
    ) -> None:
        server: str | None = None
        kinds = entity_kinds(self._registry)
        for clause in (c for c in CLAUSE.split(link) if c.strip()):
            # Arguments first: a value (a path, say) may contain a server's name.
            rest, arguments = split_arguments(clause)
            named, text = named_server(rest, entries)
            server = named or server
            plain, referred = split_reference(text, kinds)
            said = said_words(plain)
            try:
                match = best_tool(said, reading.goal_words, entries, server,
                                  said_words(referred), text=plain)
            except NoMatch as no:
                if named is None or said:
                    reading.not_understood.append(f"{clause.strip()}: {no}")
                    reading.tied = reading.tied or isinstance(no, Tie)
                    continue
                # Only a server: the tool is chosen by what the other steps consume.
                reading.tools.append(ToolDraft("", index, UNCHOSEN, arguments, server=named,
                                                said=clause.strip(), why=str(no)))
                continue
            try:
                said_values = read_said(text, match.entry, arguments, kinds)
            except Unclear as unclear:
                reading.not_understood.append(
                    f"{clause.strip()}: {unclear} (for {match.entry.capability.name})")
                continue
            if unknown_words(said_values.rest, match.entry):
                why = unknown_told(said_values.rest, match.entry, entries, server)
                reading.not_understood.append(f"{clause.strip()}: {why}")
                continue
            self._add(reading, index, clause, match.entry.capability, said_values.values,
                      reference=said_values.reference)

    def _add(
        self, reading: _Reading, index: int, clause: str, capability: Capability,
        arguments: dict[str, str], at: int | None = None, reference: str | None = None,
    ) -> None:
        taken = {d.id for d in reading.tools}
        draft = ToolDraft(
            id=unique_id(capability.name.removeprefix("mcp.").replace(".", "-"), taken),
            link=index, capability=capability, arguments=arguments, reference=reference,
        )
        if at is None:
            at = len(reading.tools)
            reading.tools.append(draft)
        else:
            reading.tools[at] = draft
        reading.said.append((index, at, f"{clause.strip()} → {capability.name}"))

    def _choose_by_flow(self, reading: _Reading, entries: list[ToolEntry]) -> None:
        """A clause that only names a server gets the one tool of that server that
        produces a kind another step of the request consumes; failing that, the one
        that consumes a kind another step produces ("... -> aws -> slack": the post
        of the deployment)."""
        for at, draft in enumerate(reading.tools):
            if draft.capability is not UNCHOSEN:
                continue
            chosen = [d.capability for d in reading.tools if d.capability is not UNCHOSEN]
            consumed = {k for c in chosen for k in c.consumes}
            produced = {k for c in chosen for k in c.produces}
            own = [e.capability for e in entries if e.server == draft.server]
            fits = sorted((c for c in own if set(c.produces) & consumed),
                          key=lambda c: c.name) or sorted(
                (c for c in own if set(c.consumes) & produced), key=lambda c: c.name)
            if len(fits) == 1:
                self._add(reading, draft.link, draft.said, fits[0], draft.arguments, at)
                reading.tools[at].by_flow, reading.tools[at].said = True, draft.said
            else:
                why = draft.why if not fits else (
                    f"several tools fit what other steps make or need: "
                    f"{', '.join(c.name for c in fits)}; say which")
                reading.not_understood.append(f"{draft.said}: {why}")

    async def _platform_steps(self, message: str, reading: _Reading) -> dict[int, list[Step]]:
        """The built-in agents' steps, planned together, by the link that asked for them
        (steps the synthesiser inserted go with the first link)."""
        if not reading.actions:
            return {}
        plan = await self._synthesiser.synthesise(message, [a for _, a in reading.actions])
        asked = {f"{a.verb}-{a.kind}-{a.name}"[:MAX_ID]: i for i, a in reading.actions}
        first = min(i for i, _ in reading.actions)
        by_link: dict[int, list[Step]] = {}
        for step in plan.steps:
            by_link.setdefault(asked.get(step.id, first), []).append(step)
        return by_link

    async def _drop_made(self, reading: _Reading) -> None:
        """A step chosen only for what it makes is left out when the graph holds
        that already ("deploy my app using GitHub → AWS" once the repository
        exists): the other steps need the entity, not a second try at making it.
        Not when another step takes its output."""
        for draft in list(reading.tools):
            refs = made(draft.capability, draft.params) if draft.by_flow else []
            if not refs:
                continue
            # What the others take of its output is the entity's name, known now.
            named = {f"${{steps.{draft.id}.output.{STRUCTURED}.{key}}}": refs[0].name
                     for key in ("name", refs[0].kind, f"{refs[0].kind}_name")}
            rewired = {id(o): {k: named.get(v, v) if isinstance(v, str) else v
                               for k, v in o.params.items()} for o in reading.tools}
            if any(_takes_output(params, draft.id) for params in rewired.values()):
                continue
            if all([await self._store.get_entity(ref) is not None for ref in refs]):
                reading.tools.remove(draft)
                for other in reading.tools:
                    other.params = rewired[id(other)]
                    other.depends_on.discard(draft.id)
                at = next(i for i, (link, _, text) in enumerate(reading.said)
                          if link == draft.link and text.startswith(f"{draft.said} → "))
                held = ", ".join(f"{r.kind} {r.name}" for r in refs)
                reading.said[at] = (draft.link, reading.said[at][1],
                                    f"{draft.said} → {held} exists already: not made again")

    def _chain(self, reading: _Reading, platform: list[Step]) -> None:
        """Each link waits for the link before it (read-only after read-only excepted);
        a step that is not read-only waits for every earlier link, read-only steps
        left side by side included ("git log -> fs read -> slack post": the post
        waits for both reads)."""
        by_link: dict[int, list[Step | ToolDraft]] = {}
        for draft in reading.tools:
            by_link.setdefault(draft.link, []).append(draft)
        asked = {f"{a.verb}-{a.kind}-{a.name}"[:MAX_ID]: i for i, a in reading.actions}
        for step in platform:
            if step.id in asked:
                by_link.setdefault(asked[step.id], []).append(step)
        links = sorted(by_link)
        items: list[Step | ToolDraft] = [*reading.tools, *platform]
        waits = {step_id(i): set(depends_on(i)) for i in items}
        for at, (before, after) in enumerate(itertools.pairwise(links)):
            for item in by_link[after]:
                wait: set[str] = set()
                for prior in by_link[before]:
                    if read_only(item, self._registry) and read_only(prior, self._registry):
                        wait |= set(depends_on(prior))
                    else:
                        wait.add(step_id(prior))
                # A wait the step already has through another step is not repeated.
                implied = upstream(waits, waits[step_id(item)])
                wait = {w for w in wait if w not in implied or w in waits[step_id(item)]}
                if not read_only(item, self._registry):
                    # Earlier links' steps nothing waited for (reads side by side).
                    reached = upstream(waits, waits[step_id(item)] | wait) | wait
                    wait |= {step_id(p) for link in links[:at] for p in by_link[link]
                             if step_id(p) not in reached}
                add_depends_on(item, wait)
                waits[step_id(item)] |= wait

    def _step(self, draft: ToolDraft, stats: Mapping[str, AgentStats]) -> Step:
        capability = draft.capability
        agent, fallbacks = assign_agents(self._registry, capability.name, stats)
        return Step(
            id=draft.id, capability=capability.name, agent=agent,
            fallbacks=fallbacks, parameters=draft.params,
            depends_on=sorted(draft.depends_on - {draft.id}), optional=capability.optional,
            requires_approval=capability.sensitive, compensation=self._undo(draft),
        )

    def _undo(self, draft: ToolDraft) -> Compensation | None:
        capability = draft.capability
        if capability.compensation is None:
            return None
        if not self._registry.has_capability(capability.compensation):
            source = capability.source
            where = (f"MCP server {source.server!r} offers no tool for it "
                     f"(orchestrator.tools.{source.tool}.compensation)" if source else
                     "no agent provides it")
            raise CannotPlan(
                f"step {draft.id} could not be undone: its compensation "
                f"{capability.compensation!r} is unknown; {where}. Correct the option, or "
                "remove it to run the tool without an undo",
                [f"call {capability.name}"], [],
            )
        undo = self._registry.capability(capability.compensation)
        return Compensation(capability=undo.name, parameters=undo_parameters(draft, undo))


def _takes_output(params: dict[str, Any], step: str) -> bool:
    return f"${{steps.{step}." in json.dumps(params)
