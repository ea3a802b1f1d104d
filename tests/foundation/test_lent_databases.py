"""The suite's PostgreSQL databases are lent from test to test (tests/conftest.py): what one test wrote must
never reach the next, and a database whose schema or grants a test changed must never be lent again."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from tests.conftest import TEST_SECRET_KEY, UNLIMITED, Templates, pg_dsn, pg_fetchval, pg_url

pytestmark = [pytest.mark.postgres]


LOCKER = """
import asyncio, sys, asyncpg
async def main():
    conn = await asyncpg.connect(sys.argv[1])
    await conn.execute("BEGIN; LOCK TABLE workspaces IN ACCESS EXCLUSIVE MODE")
    print("locked", flush=True)
    await asyncio.sleep(120)
asyncio.run(main())
"""
"A process that holds a lock on the database and never lets go, as a test's leaked connection would."


async def _create_workspace(name: str, slug: str) -> int:
    from ideaengine import workspaces
    from ideaengine.platform.services import Services
    from ideaengine.platform.settings import Settings

    services = Services.create(
        Settings(database_url=pg_url(name), secret_key=TEST_SECRET_KEY, redis_url=None, **UNLIMITED)
    )
    try:
        async with services.transaction() as session:
            await workspaces.create_workspace(session, services.box, slug)
    finally:
        await services.close()
    return int(await pg_fetchval(name, f"SELECT id FROM workspaces WHERE slug = '{slug}'"))


def test_a_database_given_back_is_lent_again_empty_with_its_ids_restarted(templates: Templates) -> None:
    name = templates.lend_pg()
    locker = None
    try:
        assert asyncio.run(_create_workspace(name, "first")) == 1
        assert asyncio.run(_create_workspace(name, "second")) == 2
        locker = subprocess.Popen([sys.executable, "-c", LOCKER, pg_dsn(name)], stdout=subprocess.PIPE, text=True)
        assert locker.stdout is not None and locker.stdout.readline() == "locked\n"
    finally:
        templates.give_back(name)  # ends the locker's session, then empties the tables
    if locker is not None:
        locker.kill()
        locker.wait(10)
        assert locker.stdout is not None
        locker.stdout.close()
    again = templates.lend_pg()
    try:
        assert again == name  # the same database, lent again
        assert asyncio.run(pg_fetchval(again, "SELECT count(*) FROM workspaces")) == 0
        assert asyncio.run(pg_fetchval(again, "SELECT count(*) FROM users")) == 0
        assert asyncio.run(_create_workspace(again, "third")) == 1  # ids start again, as in a fresh copy
        assert asyncio.run(pg_fetchval(again, "SELECT count(*) FROM alembic_version")) == 1
    finally:
        templates.give_back(again)


@pytest.mark.parametrize(
    "change",
    [
        'REVOKE TEMPORARY ON DATABASE "{name}" FROM PUBLIC',
        "ALTER TABLE ideas ADD COLUMN leftover integer",
        "DROP INDEX ix_ideas_board_up",
        "UPDATE alembic_version SET version_num = 'somewhere_else'",
        "CREATE FUNCTION leftover() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
        "CREATE VIEW leftover AS SELECT id FROM ideas",
    ],
    ids=["grant", "column", "index", "migration", "function", "view"],
)
def test_a_database_whose_schema_or_grants_changed_is_dropped_not_lent(templates: Templates, change: str) -> None:
    name = templates.lend_pg()
    try:
        asyncio.run(pg_fetchval(name, change.format(name=name)))
    finally:
        templates.give_back(name)
    assert name not in templates.pg_free
    assert asyncio.run(pg_fetchval(None, f"SELECT count(*) FROM pg_database WHERE datname = '{name}'")) == 0
