"""Which capabilities exist and which agents provide them."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.errors import InvalidInput
from orchestrator.models import Agent, Capability


class AgentRegistry:
    def __init__(self, capabilities: Iterable[Capability], agents: Iterable[Agent]) -> None:
        self._capabilities = {c.name: c for c in capabilities}
        self._agents = {a.id: a for a in agents}
        for agent in self._agents.values():
            unknown = set(agent.capabilities) - set(self._capabilities)
            if unknown:
                raise ValueError(f"agent {agent.id} provides unknown {sorted(unknown)}")

    @property
    def capabilities(self) -> list[Capability]:
        return [self._capabilities[n] for n in sorted(self._capabilities)]

    @property
    def agents(self) -> list[Agent]:
        return [self._agents[i] for i in sorted(self._agents)]

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

    def providers(self, capability: str) -> list[Agent]:
        return [a for a in self.agents if capability in a.capabilities]

    def producers_of(self, kind: str) -> list[Capability]:
        """Capabilities that make an entity of this kind, validate-or-create first."""
        found = [c for c in self.capabilities if kind in c.produces]
        return sorted(found, key=lambda c: (not c.ensures, c.name))
