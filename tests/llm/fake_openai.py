"""A local server speaking the OpenAI chat completions wire format, scripted per test.

It runs in a thread of its own, so a deliberately slow answer never blocks the
event loop the client runs on, and records every request it receives.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMPLETIONS_PATH = "/v1/chat/completions"


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    raw: str
    at: float  # time.monotonic() on arrival

    @property
    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.raw)
        return parsed

    @property
    def messages(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.body["messages"]
        return found


def completion(content: str, finish_reason: str = "stop") -> Reply:
    """A 200 whose one choice carries `content` as the assistant's message."""
    return Reply(body={
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0,
        "model": "test-model",
        "choices": [{
            "index": 0, "finish_reason": finish_reason, "logprobs": None,
            "message": {"role": "assistant", "content": content, "refusal": None},
        }],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    })


def error(status: int, headers: dict[str, str] | None = None) -> Reply:
    body = {"error": {"message": f"scripted {status}", "type": "test", "code": None}}
    return Reply(status=status, body=body, headers=headers or {})


class FakeOpenAi:
    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # `shutdown` waits for the serving loop to notice; with no loop running it
        # would wait forever.
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            if recorded.path != COMPLETIONS_PATH:
                return error(404)
            return self.script.pop(0) if self.script else error(500)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = fake._next(Recorded(self.path, headers, raw, time.monotonic()))
                time.sleep(reply.delay_s)
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                try:
                    self.send_response(reply.status)
                    if "content-type" not in reply.headers:
                        self.send_header("content-type", "application/json")
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(body.encode())))
                    self.end_headers()
                    self.wfile.write(body.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that is what slow replies test

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
