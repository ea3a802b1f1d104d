"""SQLite statements run on the event loop's own thread, without aiosqlite's worker thread.

aiosqlite runs every call (open a cursor, execute, fetch, close) in a thread of its own and wakes the event
loop for each answer: four hops per statement, each waiting its turn behind the loop's other work. A vote
holds SQLite's single writer for some thirty of them. A short SQLite statement costs microseconds, less than
one hop, so running it where it is asked is faster for the caller and frees the writer sooner. This is the
asyncio connection interface SQLAlchemy's aiosqlite dialect drives, over a plain sqlite3 connection.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

BUSY_WAITS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)
"Pauses between tries while another connection holds the lock, the last one repeated until the deadline."


class InlineCursor:
    __slots__ = ("_cursor", "_timeout")

    def __init__(self, cursor: sqlite3.Cursor, timeout: float) -> None:
        self._cursor = cursor
        self._timeout = timeout

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        await self._run(self._cursor.execute, sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Any) -> InlineCursor:
        await self._run(self._cursor.executemany, sql, parameters)
        return self

    async def _run(self, method: Callable[[str, Any], Any], sql: str, parameters: Any) -> None:
        """Run now; if another connection (another process, or a job's thread) holds the lock, the connection
        has no busy timeout and says so at once: wait here without holding the loop, then try again, until
        the timeout a threaded connection would have waited. A statement refused as busy did nothing, so
        trying it again is safe (BEGIN IMMEDIATE, in practice: a writer's later statements hold the lock)."""
        deadline = time.monotonic() + self._timeout
        for attempt in itertools.count():
            try:
                method(sql, parameters)
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(BUSY_WAITS[min(attempt, len(BUSY_WAITS) - 1)])

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


def _busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED, extended codes included (Python 3.11 gives every error its code)."""
    return (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class _RunNow:
    """Where SQLAlchemy queues a call for aiosqlite's thread (the isolation level's setter): run it now."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # handed to the awaiting caller, as aiosqlite's thread would
            future.set_exception(exc)


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection, timeout: float) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        "None once closed (SQLAlchemy's adapter reads it so)."
        self._timeout = timeout
        self._tx = _RunNow()

    def cursor(self) -> InlineCursor:
        if self._connection is None:
            raise ValueError("no active connection")  # what aiosqlite says, which SQLAlchemy's adapter maps
        return InlineCursor(self._connection.cursor(), self._timeout)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        self._conn.commit()  # BEGIN is SQLAlchemy's (isolation_level None): a no-op but for pysqlite's own

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level


Connector = Callable[[str, float], Callable[[], Awaitable["InlineConnection"]]]


def connector(path: str, timeout: float) -> Callable[[], Awaitable[InlineConnection]]:
    """`create_async_engine(async_creator=...)` for the SQLite file at `path`; `timeout` is how long a statement
    waits for another connection's lock. The connection may be used by one task at a time on any thread (a
    pooled connection moves between them), as aiosqlite's may."""

    async def connect() -> InlineConnection:
        return InlineConnection(sqlite3.connect(path, timeout=0, check_same_thread=False), timeout)

    return connect
