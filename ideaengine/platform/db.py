"""Engine, sessions and the transaction scope shared by the API, the CLI and the workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from ideaengine.platform.events import Broker
from ideaengine.platform.jobs import JobQueue
from ideaengine.platform.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 5000
"How long a SQLite writer waits for the lock before 'database is locked' (RELIABILITY.md)."
WRITE_OPTION = "ideaengine_write"
"Execution option marking a connection whose transaction will write (BEGIN IMMEDIATE on SQLite)."
AUTOCOMMIT_OPTION = "ideaengine_autocommit"
"Execution option of SQLite read connections that run each statement on its own (no BEGIN)."


def _configure_sqlite(sync_engine: Engine) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself, so a writer can ask for BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred read that later writes fails at once with "database is locked"
        # despite busy_timeout; writers take the lock up front (DECISIONS.md 18).
        options = conn.get_execution_options()
        if options.get(AUTOCOMMIT_OPTION, False):
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION, False) else "BEGIN")


def create_engine(settings: Settings, *, pooled: bool = True, autocommit: bool = False) -> AsyncEngine:
    """An engine for the configured database; `pooled=False` for jobs that run in a forked process,
    `autocommit` for PostgreSQL reads that need no transaction (see `Database.reader`)."""
    kwargs: dict[str, Any] = {}
    if not pooled:
        kwargs["poolclass"] = NullPool
    elif not settings.is_sqlite:
        # Writes: one short transaction per mutation; API reads (their own engine): one connection per
        # request, held while it resolves. 10 + 20 covers the requests one process has in flight.
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True, pool_recycle=1800)
    if autocommit:
        kwargs["isolation_level"] = "AUTOCOMMIT"
    if settings.is_sqlite:
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    engine = create_async_engine(settings.database_url, **kwargs)
    if settings.is_sqlite:
        _configure_sqlite(engine.sync_engine)
    return engine


class Database:
    """Owns the engine and hands out sessions: short reads, and write transactions with after-commit hooks."""

    def __init__(self, settings: Settings, *, pooled: bool = True) -> None:
        self.settings = settings
        self.engine = create_engine(settings, pooled=pooled)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        if settings.is_sqlite:
            read_engine = self.engine.execution_options(**{AUTOCOMMIT_OPTION: True})
        else:
            # A pool of its own: a connection handed back to a shared pool is reset to READ COMMITTED, and
            # the next checkout's pre-ping would then cost BEGIN, ping, ROLLBACK instead of one ping.
            read_engine = create_engine(settings, pooled=pooled, autocommit=True)
        self.read_engine = read_engine
        self.reads = async_sessionmaker(read_engine, expire_on_commit=False, autoflush=False)
        self.queue: JobQueue | None = None
        "Where after-commit jobs go; set by Services (None: jobs are dropped, e.g. in a job itself)."
        self.broker: Broker | None = None
        "Where after-commit live events go; set by Services."

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A short read-only session (one per task: an AsyncSession must not be shared)."""
        async with self.sessions() as session:
            yield session

    def reader(self) -> AsyncSession:
        """A session for the API's reads that runs each statement on its own: no BEGIN and ROLLBACK round
        trips, and no snapshot held open between the statements of a request. On PostgreSQL (READ COMMITTED)
        each statement saw a snapshot of its own anyway; on SQLite a request's statements already ran in
        separate sessions. The caller closes it; one task at a time uses it."""
        return self.reads()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Commit on success, then publish the events and submit the jobs the transaction queued; on error
        roll back and drop them, so nothing runs for a write that did not happen."""
        async with self.sessions() as session:
            await session.connection(execution_options={WRITE_OPTION: True})
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                session.info.pop("jobs", None)
                session.info.pop("events", None)
                raise
        if (events := session.info.pop("events", None)) and self.broker is not None:
            await self.broker.publish(events)
        if (requests := session.info.pop("jobs", None)) and self.queue is not None:
            await self.queue.submit(requests)

    async def dispose(self) -> None:
        if self.read_engine.sync_engine.pool is not self.engine.sync_engine.pool:
            await self.read_engine.dispose()
        await self.engine.dispose()
