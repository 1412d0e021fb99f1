"""`orchestrator graph`: what the graph holds, read through the API.

`orchestrator graph` lists the entities runs made, `graph <kind>` those of a kind,
and `graph <kind> <name>` one entity with its relationships: "what is deployed to
production?" is `orchestrator graph environment production`.
"""

from __future__ import annotations

from typing import Any, TextIO
from urllib.parse import quote

from orchestrator.api_client import session, show_refusal

PAGE = 100


async def show_graph(api: str, out: TextIO, kind: str | None, name: str | None,
                     limit: int = PAGE, offset: int = 0, api_option: str = "") -> int:
    """Print the entities asked for (a page of `limit` from `offset` when listing); 0
    if found, 1 if the entity is not there, 2 if the API refused the question (an
    unknown kind)."""
    async with session(api) as http:
        if kind is not None and name is not None:
            reply = await http.get(f"/v1/graph/entities/{quote(kind)}/{quote(name)}")
            if reply.status_code != 200:
                show_refusal(reply, out)
                return 1 if reply.status_code == 404 else 2
            _show_entity(reply.json(), out)
            return 0
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if kind is not None:
            params["kind"] = kind
        reply = await http.get("/v1/graph/entities", params=params)
    if reply.status_code != 200:
        show_refusal(reply, out)
        return 2
    page = reply.json()
    if not page["entities"] and not offset:
        out.write(f"no {kind} in the graph yet\n" if kind else "the graph holds nothing yet\n")
    for entity in page["entities"]:
        out.write(f"{_named(entity)}  (made by {entity['created_by'] or 'no run'})\n")
    if page["next_offset"] is not None:
        of = f" {kind}" if kind else ""
        out.write(f"more: orchestrator graph{of} --offset {page['next_offset']} --limit {limit}"
                  f"{api_option}\n")
    return 0


def _show_entity(found: dict[str, Any], out: TextIO) -> None:
    entity = found["entity"]
    out.write(f"{_named(entity)}\n  made by {entity['created_by'] or 'no run'}\n")
    for key, value in sorted(entity["attrs"].items()):
        out.write(f"  {key}: {value}\n")
    for relation in found["relations"]:
        out.write(f"  {_named(relation['source'])} -{relation['type']}-> "
                  f"{_named(relation['target'])}\n")
    users = entity["users"]
    if users:
        out.write(f"  used by {len(users)} step{'s' if len(users) != 1 else ''}: "
                  f"{', '.join(users)}\n")


def _named(entity: dict[str, Any]) -> str:
    return f"{entity['kind']} {entity['name']}"
