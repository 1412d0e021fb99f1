"""The `orchestrator` command: `up`, `worker`, `chat` and `demo`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence

from orchestrator.settings import Settings

S1 = (
    "Create application ecommerce with payment service, deploy to production "
    "with monitoring and security policies"
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("temporalio", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(asyncio.run(args.func(args)) or 0)
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="command")

    up = sub.add_parser("up", help="start Temporal (unless configured), the worker and the API")
    up.add_argument("--api-port", type=int, help="API port (default 8000)")
    up.set_defaults(func=_up)

    worker = sub.add_parser("worker", help="run a worker only")
    worker.set_defaults(func=_worker)

    chat = sub.add_parser("chat", help="send a request to a running API and follow it")
    chat.add_argument("message")
    chat.add_argument("--api", default="http://127.0.0.1:8000", help="API base address")
    chat.set_defaults(func=_chat)

    demo = sub.add_parser("demo", help="start everything, run the S1 request, show the result")
    demo.add_argument("--api-port", type=int, help="API port (default 8000)")
    demo.add_argument("--exit", action="store_true", help="stop once the run is over")
    demo.add_argument("--message", default=S1, help="the request to run")
    demo.set_defaults(func=_demo)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    port = getattr(args, "api_port", None)
    return settings.model_copy(update={"api_port": port}) if port else settings


async def _up(args: argparse.Namespace) -> int:
    from worker.main import serve

    await serve(_settings(args))
    return 0


async def _worker(args: argparse.Namespace) -> int:
    from worker.main import run_worker

    await run_worker(_settings(args))
    return 0


async def _chat(args: argparse.Namespace) -> int:
    from orchestrator.chat_client import follow

    return await follow(args.api, args.message, sys.stdout)


async def _demo(args: argparse.Namespace) -> int:
    from orchestrator.chat_client import follow
    from worker.main import serve

    settings = _settings(args)
    outcome: list[int] = []

    async def ready(settings: Settings, _client: object) -> None:
        api = f"http://{settings.api_host}:{settings.api_port}"
        outcome.append(await follow(api, args.message, sys.stdout))
        if args.exit:
            raise _Done
        print(f"\nStill running: API {api}, Temporal Web UI {settings.ui_url}. Ctrl-C stops.")

    with contextlib.suppress(_Done):
        await serve(settings, ready)
    return outcome[0] if outcome else 1


class _Done(Exception):
    """Ends the demo once its run is over."""


if __name__ == "__main__":
    sys.exit(main())
