"""A stand-in for a chat service: messages in channels.

    python -m tests.mcp_servers.chat_server --state chat.json [--transport http --port N]
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from tests.mcp_servers.common import (
    CREATES,
    DELETES,
    READ_ONLY,
    JsonState,
    add_status_tool,
    parse_args,
    serve,
)

Channel = Annotated[
    str, Field(description="Channel name without '#'", pattern=r"^[a-z][a-z0-9-]{0,79}$")
]


class Message(BaseModel):
    id: str
    channel: str
    text: str


def build(state: JsonState) -> MCPServer:
    server = MCPServer("chat", instructions="Post and delete chat messages.")
    add_status_tool(server)

    @server.tool(annotations=CREATES)
    def post_message(
        channel: Channel, text: Annotated[str, Field(min_length=1, max_length=4000)]
    ) -> Message:
        """Post a message to a channel."""
        data = state.load()
        data["next_id"] += 1
        message = Message(id=f"m{data['next_id']}", channel=channel, text=text)
        data["channels"].setdefault(channel, []).append(message.model_dump())
        state.save(data)
        return message

    @server.tool(annotations=DELETES)
    def delete_message(channel: Channel, message_id: str) -> str:
        """Delete a message; deleting one already gone succeeds."""
        data = state.load()
        kept = [m for m in data["channels"].get(channel, []) if m["id"] != message_id]
        data["channels"][channel] = kept
        state.save(data)
        return f"deleted {message_id}"

    @server.tool(annotations=READ_ONLY)
    def list_messages(channel: Channel) -> list[Message]:
        """Messages of a channel, oldest first."""
        data = state.load()
        if channel not in data["channels"]:
            raise ToolError(f"channel {channel!r} does not exist")
        return [Message(**m) for m in data["channels"][channel]]

    return server


if __name__ == "__main__":
    args = parse_args("chat")
    serve(build(JsonState(args.state, {"channels": {}, "next_id": 0})), args)
