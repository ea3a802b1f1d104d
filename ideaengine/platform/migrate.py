"""Running the Alembic migrations from code: the CLI, `serve` and the test fixtures share this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if database_url:
        config.attributes["database_url"] = database_url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database at `database_url`; call it outside any running event loop."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def upgrade_on(connection: Connection, revision: str = "head") -> None:
    """Migrate through a connection the caller owns (e.g. from `AsyncConnection.run_sync`)."""
    command.upgrade(alembic_config(connection=connection), revision)


async def is_current(database_url: str) -> bool:
    """Whether the database is at the newest revision (the distributed setup migrates explicitly)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(lambda c: set(MigrationContext.configure(c).get_current_heads()))
    finally:
        await engine.dispose()
    return current == heads
