"""Small pieces of the wording the command line prints."""

from __future__ import annotations


def counted(count: int, noun: str) -> str:
    """`1 step`, `2 steps`: a count with its noun (nouns whose plural takes an -s)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
