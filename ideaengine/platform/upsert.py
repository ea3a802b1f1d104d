"""Dialect-aware INSERT ... ON CONFLICT, so concurrent writers never count twice."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, model: type[Any] | Table) -> Any:
    """The dialect's INSERT construct for a model or a table (both offer on_conflict_do_nothing/update)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def insert_ignore(session: AsyncSession, model: type[Any], values: dict[str, Any], conflict: list[str]) -> bool:
    """Insert unless the unique key exists; True when a row was written."""
    stmt = insert_for(session, model).values(**values).on_conflict_do_nothing(index_elements=conflict)
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]
