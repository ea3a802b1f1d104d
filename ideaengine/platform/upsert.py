"""Dialect-aware INSERT ... ON CONFLICT, so concurrent writers never count twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, model: type[Any] | Table) -> Any:
    """The dialect's INSERT construct for a model or a table (both offer on_conflict_do_nothing/update)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def built_once(cache: dict[str, Any], session: AsyncSession, build: Callable[[AsyncSession], Any]) -> Any:
    """A dialect-specific statement from `cache`, built by `build` the first time each dialect asks. Statements
    run on every vote or refresh are worth it: building one (and its cache key) costs about as much as running it,
    and `Insert.excluded` builds a column collection on every access."""
    dialect = session.get_bind().dialect.name
    if (stmt := cache.get(dialect)) is None:
        stmt = cache[dialect] = build(session)
    return stmt


async def insert_ignore(session: AsyncSession, model: type[Any], values: dict[str, Any], conflict: list[str]) -> bool:
    """Insert unless the unique key exists; True when a row was written."""
    stmt = insert_for(session, model).values(**values).on_conflict_do_nothing(index_elements=conflict)
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]
