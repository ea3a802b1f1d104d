"""Shared query helpers: paging bounds and ordering that behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

MAX_PAGE_SIZE = 100
"`first` above this is refused (the contract's connection rule)."


def like_pattern(term: str) -> str:
    """A LIKE pattern matching `term` anywhere, with LIKE's wildcards escaped (use escape='\\\\')."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
