"""A command that stops itself (its dev server keeps dying) does it as a SIGTERM
would, so that everything shuts down cleanly, and says why instead of naming a
signal nobody sent."""

from __future__ import annotations

import os
import signal

# Why the command stops itself, when it does: read by the CLI's signal handler.
reasons: list[str] = []


def stop_self(reason: str) -> None:
    reasons.append(reason)
    os.kill(os.getpid(), signal.SIGTERM)
