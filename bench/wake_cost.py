"""What waking a quiet process costs on this machine, apart from any Temporal or MCP code.

Two processes pass one byte back and forth over a pair of pipes, as a worker and a
server pass a request and its answer. Each round trip is timed:

- back to back: the next one starts as soon as the last one ended, so neither
  process has gone quiet;
- after an idle spell: the caller sleeps ``--gap-ms`` first, as a worker does while
  Temporal dispatches its next step, so both processes (and their CPUs) have gone
  quiet when the byte arrives.

Then both again with a busy process per core at the lowest priority (nice 19):
it gives way to any other work at once, but keeps the CPUs from going idle. The
difference between the two idle figures is what waking an idle CPU costs (on a
virtual machine, the host has to run the halted virtual CPU again), not what
waking a process costs.

The same four ways for one MCP call over stdio (the project's test chat server,
as bench/mcp_call_cost.py calls it directly): a call after an idle spell costs
more than one of a back-to-back loop, and the engine and MCP benchmarks' steps
come after such spells. If keeping the CPUs busy does not take that away, it is
not the CPUs waking up but the processes' own work running slower after a pause.

    python -m bench.wake_cost
    python -m bench.wake_cost -n 2000 --gap-ms 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from multiprocessing import Process
from pathlib import Path

from bench.bare_latency import pct
from bench.mcp_call_cost import ARGS, TOOL, direct_client, seeded_state, time_calls
from tests.mcp.support import ROOT


def _echo(inbound: int, outbound: int) -> None:
    """Send back every byte received, until the pipe closes."""
    while data := os.read(inbound, 1):
        os.write(outbound, data)


def _spin() -> None:
    os.nice(19)
    while True:
        pass


def _round_trips(n: int, gap_s: float) -> list[float]:
    """`n` round trips in ms, each after `gap_s` of sleep."""
    to_echo, from_us = os.pipe()
    to_us, from_echo = os.pipe()
    echo = Process(target=_echo, args=(to_echo, from_echo), daemon=True)
    echo.start()
    os.close(to_echo)
    os.close(from_echo)
    try:
        times: list[float] = []
        for _ in range(n + 20):  # the first 20 warm up
            if gap_s:
                time.sleep(gap_s)
            began = time.perf_counter()
            os.write(from_us, b"x")
            os.read(to_us, 1)
            times.append((time.perf_counter() - began) * 1000)
        return times[20:]
    finally:
        os.close(from_us)
        os.close(to_us)
        echo.join(5)


@contextlib.contextmanager
def _busy_cpus(on: bool) -> Iterator[None]:
    spinners = [Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 1)] \
        if on else []
    for spinner in spinners:
        spinner.start()
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.join()


async def _mcp_calls(n: int, gap_s: float, busy: bool, idle: bool) -> list[float]:
    """`n` stdio calls of the chat server's read-only tool, in ms."""
    state = seeded_state(Path(tempfile.mkdtemp(prefix="bench-wake-")), "chat")
    entry = {"command": sys.executable, "cwd": str(ROOT), "args": [
        "-m", "tests.mcp_servers.chat_server", "--state", str(state)]}
    async with direct_client(entry) as client:
        with _busy_cpus(busy):
            return await time_calls(lambda: client.call_tool(TOOL, ARGS), n, 30,
                                    gap_s if idle else 0.0)


def _table(what: str, measure: Callable[[bool, bool], list[float]]) -> None:
    """The four ways of `measure(busy, idle)`, and what an idle spell adds."""
    print(f"{what:<44} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    p50: dict[tuple[bool, bool], float] = {}
    for busy in (False, True):
        for idle in (False, True):
            times = measure(busy, idle)
            p50[busy, idle] = pct(times, 0.5)
            name = ("  after an idle spell" if idle else "  back to back") + (
                ", CPUs kept busy" if busy else "")
            print(f"{name:<44} {p50[busy, idle]:8.3f} {pct(times, 0.95):8.3f} "
                  f"{statistics.fmean(times):8.3f}")
    print(f"  an idle spell adds {p50[False, True] - p50[False, False]:.3f} ms; "
          f"with the CPUs kept busy {p50[True, True] - p50[True, False]:.3f} ms")
    sys.stdout.flush()


def _pipes(n: int, gap_s: float) -> Callable[[bool, bool], list[float]]:
    def measure(busy: bool, idle: bool) -> list[float]:
        with _busy_cpus(busy):
            return _round_trips(n, gap_s if idle else 0.0)
    return measure


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", type=int, default=1000, help="round trips per way")
    parser.add_argument("--calls", type=int, default=300, help="MCP calls per way")
    parser.add_argument("--gap-ms", type=float, default=10.0, help="the idle spell")
    args = parser.parse_args(argv)
    gap_s = args.gap_ms / 1000
    print(f"idle spell {args.gap_ms:g} ms; {os.cpu_count()} CPUs")
    _table(f"pipe round trip (n={args.n})", _pipes(args.n, gap_s))
    _table(f"MCP stdio call (n={args.calls})", lambda busy, idle: asyncio.run(
        _mcp_calls(args.calls, gap_s, busy, idle)))


if __name__ == "__main__":
    main()
