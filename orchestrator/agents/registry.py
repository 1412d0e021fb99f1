"""Which capabilities exist and which agents provide them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from orchestrator.agents.faults import Fault
from orchestrator.errors import InvalidInput
from orchestrator.models import Agent, AgentKind, Capability


class AgentRegistry:
    def __init__(self, capabilities: Iterable[Capability], agents: Iterable[Agent]) -> None:
        self._capabilities = {c.name: c for c in capabilities}
        self._agents: dict[str, Agent] = {}
        for agent in agents:
            # Agents come from settings too (extra_agents): a misspelt capability or a
            # second agent under one id is told, not left to a traceback or dropped.
            if agent.id in self._agents:
                raise InvalidInput(f"agent {agent.id!r} is defined twice: give the extra "
                                   "agent an id of its own")
            unknown = sorted(set(agent.capabilities) - set(self._capabilities))
            if unknown:
                known = ", ".join(sorted(self._capabilities))
                raise InvalidInput(f"agent {agent.id!r} provides unknown capabilities "
                                   f"{', '.join(unknown)} (known: {known})")
            self._agents[agent.id] = agent

    @property
    def capabilities(self) -> list[Capability]:
        return [self._capabilities[n] for n in sorted(self._capabilities)]

    @property
    def agents(self) -> list[Agent]:
        return [self._agents[i] for i in sorted(self._agents)]

    def has_capability(self, name: str) -> bool:
        return name in self._capabilities

    def capability(self, name: str) -> Capability:
        try:
            return self._capabilities[name]
        except KeyError:
            raise InvalidInput(f"unknown capability {name!r}") from None

    def agent(self, agent_id: str) -> Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise InvalidInput(f"unknown agent {agent_id!r}") from None

    def mark(self, flag: str, names: Iterable[str]) -> None:
        """Set a flag (`sensitive`: ask for approval first; `optional`: best effort)
        on these capabilities, from settings."""
        for name in names:
            if name not in self._capabilities:
                known = ", ".join(sorted(self._capabilities))
                raise InvalidInput(f"{flag}_capabilities: unknown capability {name!r} "
                                   f"(known: {known})")
            self._capabilities[name] = self._capabilities[name].model_copy(
                update={flag: True}
            )

    def check_faults(self, faults: Mapping[str, Fault]) -> None:
        """Faults (from settings) may only name capabilities and agents there are: a
        misspelt one would inject nothing and say nothing."""
        for name, fault in faults.items():
            if name not in self._capabilities:
                known = ", ".join(sorted(self._capabilities))
                raise InvalidInput(f"agent_faults: unknown capability {name!r} (known: {known})")
            providers = [a.id for a in self.providers(name)]
            if fault.agent is not None and fault.agent not in providers:
                raise InvalidInput(f"agent_faults: {name}: agent {fault.agent!r} does not "
                                   f"provide it (those that do: {', '.join(providers)})")

    def replace_kind(
        self, kind: AgentKind, capabilities: Iterable[Capability], agents: Iterable[Agent]
    ) -> list[str]:
        """Swap every agent of `kind` (and the capabilities only they provided) for
        these, as when MCP servers come, go or change their tools. A capability
        whose name another kind of agent already provides is left out; the names
        left out are returned."""
        kept_agents = {i: a for i, a in self._agents.items() if a.kind != kind}
        leaving = {n for a in self._agents.values() if a.kind == kind for n in a.capabilities}
        leaving -= {n for a in kept_agents.values() for n in a.capabilities}
        kept = set(self._capabilities) - leaving
        new = {c.name: c for c in capabilities}
        clashes = sorted(set(new) & kept)
        kept_caps = {n: c for n, c in self._capabilities.items() if n in kept}
        self._capabilities = {**kept_caps, **{n: c for n, c in new.items() if n not in kept}}
        for agent in agents:
            provided = [n for n in agent.capabilities if n in new and n not in kept]
            if provided:
                kept_agents[agent.id] = agent.model_copy(update={"capabilities": provided})
        self._agents = kept_agents
        return clashes

    def providers(self, capability: str) -> list[Agent]:
        return [a for a in self.agents if capability in a.capabilities]

    def producers_of(self, kind: str) -> list[Capability]:
        """Capabilities that make an entity of this kind, validate-or-create first."""
        found = [c for c in self.capabilities if kind in c.produces]
        return sorted(found, key=lambda c: (not c.ensures, c.name))
