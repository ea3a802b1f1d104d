"""SQLite writers run inline on the event loop's thread (platform/inline_sqlite.py): a lock held by another
connection (another process, a job's thread) must be waited for without holding the loop, and refused as
busy once the timeout has passed."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ideaengine.platform import inline_sqlite
from ideaengine.platform.db import Database, create_engine, unavailable
from ideaengine.platform.settings import Settings


def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")


async def ticks_while(work: asyncio.Future[object] | asyncio.Task[object]) -> int:
    """How many times the loop ran another task while `work` ran: zero would mean it held the loop."""
    count = 0
    while not work.done():
        count += 1
        await asyncio.sleep(0.01)
    return count


async def test_a_write_waits_for_another_connections_lock_without_holding_the_loop(tmp_path: Path) -> None:
    db = Database(settings(tmp_path))
    try:
        async with db.write() as session:
            await session.execute(text("CREATE TABLE t (n INTEGER)"))
        other = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock

        async def write() -> object:
            async with db.write() as session:
                await session.execute(text("INSERT INTO t VALUES (1)"))
            return time.monotonic()

        started = time.monotonic()
        task = asyncio.ensure_future(write())
        asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
        assert await ticks_while(task) >= 10  # the loop went on while the write waited
        assert await task >= started + 0.3  # type: ignore[operator]
        other.close()
        async with db.read() as session:
            assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    finally:
        await db.dispose()


async def test_a_lock_held_past_the_timeout_is_a_busy_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")  # as the server's connections leave it
    other.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(inline_sqlite, "connector", _short(inline_sqlite.connector))
    engine = create_engine(settings(tmp_path), inline=True)
    try:
        async with engine.connect() as connection:
            started = time.monotonic()
            with pytest.raises(OperationalError) as refused:
                await connection.execute(text("BEGIN IMMEDIATE"))
            assert 0.2 <= time.monotonic() - started < 2
            assert unavailable(refused.value) == "The server is too busy to answer now; retry in a moment."
    finally:
        other.close()
        await engine.dispose()


def _short(connector: inline_sqlite.Connector) -> inline_sqlite.Connector:
    """The same connections, with a timeout of 0.2 s instead of 5 s."""
    return lambda path, timeout: connector(path, 0.2)
