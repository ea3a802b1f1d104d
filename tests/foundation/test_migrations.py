"""The same migrations run on SQLite and PostgreSQL, forwards, backwards and forwards again."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ideaengine.platform import migrate
from ideaengine.platform.models import Base


def table_names(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_upgrade_downgrade_upgrade_leaves_every_table(database_url: str) -> None:
    expected = set(Base.metadata.tables) | {"alembic_version"}
    assert table_names(database_url) == expected  # the fixture's database is migrated to head
    migrate.downgrade(database_url, "base")
    assert table_names(database_url) == {"alembic_version"}
    migrate.upgrade(database_url, "head")
    assert table_names(database_url) == expected
    assert asyncio.run(migrate.is_current(database_url))


def test_models_and_migrations_agree(database_url: str) -> None:
    """Autogenerate finds nothing to add: the migration creates exactly what the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    async def diff() -> list[object]:
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: compare_metadata(
                        MigrationContext.configure(c, opts={"compare_type": False}), Base.metadata
                    )
                )
        finally:
            await engine.dispose()

    assert asyncio.run(diff()) == []
