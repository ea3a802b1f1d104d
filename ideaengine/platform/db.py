"""Engine, sessions and the transaction scope shared by the API, the CLI and the workers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool, Pool, PoolProxiedConnection, QueuePool
from sqlalchemy.util.concurrency import greenlet_spawn

from ideaengine.platform import driver, inline_sqlite, replay, writer_lock
from ideaengine.platform.events import EVENTS_KEY
from ideaengine.platform.jobs import JOBS_KEY
from ideaengine.platform.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 5000
"How long a SQLite writer waits for the lock before 'database is locked' (RELIABILITY.md)."
WRITE_OPTION = "ideaengine_write"
"Execution option marking a connection whose transaction will write (BEGIN IMMEDIATE on SQLite)."
EFFECT_KEYS = (JOBS_KEY, EVENTS_KEY)


def pool_sizes(operations: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The PostgreSQL pools of a server process running `operations` GraphQL operations at once
    (`Settings.concurrent_operations`): (kept, overflow) for reads and for writes. Each pool has a connection for
    each operation: reads keep five eighths of them open and may open the rest in a burst; writes keep every one
    open and may open a quarter more in a burst. A vote's first call on a connection makes its function there
    (`driver.AfterLock`), and a burst through overflow connections, each opened, given the function and closed,
    took 30% fewer votes. At the default 32: reads 20 + 12, writes 32 + 8, 72 in all, under PostgreSQL's default
    max_connections (100); several processes on one database need a smaller limit each (README). Between votes the
    driver writes keep up to the writes' kept number out of the pool for themselves (`Database.driver_write`)."""
    kept_reads = max(1, (operations * 5) // 8)
    return (kept_reads, operations - kept_reads), (operations, max(1, operations // 4))


KEEP_SECONDS = 60.0
"""How long a connection may stay among the driver writes' own (`Database.driver_write`): past it, the write that
uses it next hands it back, so the pool's own checks and recycling (pool_recycle) reach it again."""

DISPOSE_WAIT_SECONDS = 5.0
"""How long `Database.dispose` waits for connections still lent out before it closes the pools."""

JOB_THREAD_POOL = (1, 3)
"The pools of a Database an in-process job thread keeps (`Database(job_thread=True)`): kept, overflow."
SETTINGS_KEY = "ideaengine.settings"
"Every session's `info` holds the settings it runs under, so a domain rule that depends on configuration (email\n"
"goes out only with a mail server) reads them without a parameter threaded through every service."
AUTOCOMMIT_OPTION = "ideaengine_autocommit"
"Execution option of SQLite read connections that run each statement on its own (no BEGIN)."


def _configure_sqlite(sync_engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself, so a writer can ask for BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
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


def create_engine(
    settings: Settings,
    *,
    pooled: bool = True,
    autocommit: bool = False,
    size: tuple[int, int] | None = None,
    inline: bool = False,
    ping: bool = False,
) -> AsyncEngine:
    """An engine for the configured database; `pooled=False` for jobs that run in a forked process,
    `autocommit` for PostgreSQL reads that need no transaction (see `Database.reader`), `size` (connections
    kept, overflow) for a PostgreSQL pool sized otherwise than the API's, `inline` for a SQLite file whose
    statements run on the caller's thread (`inline_sqlite`: the writers'), `ping` for a pool that checks a
    connection with a round trip when it hands it out (SQLAlchemy's pool_pre_ping)."""
    kwargs: dict[str, Any] = {}
    if pooled:
        kwargs["pool_timeout"] = settings.database_pool_timeout_seconds
        kwargs["pool_pre_ping"] = ping and not settings.is_sqlite  # nothing closes a SQLite connection but us
    if not pooled:
        kwargs["poolclass"] = NullPool
    elif not settings.is_sqlite:
        # Writes: one short transaction per mutation; API reads (an engine of their own, `autocommit`): one
        # connection per request, held while it resolves. Most stay open, so requests in flight reuse
        # connections instead of opening and closing overflow ones (a connect and an authentication each).
        reads, writes = pool_sizes(settings.concurrent_operations)
        kept, overflow = size or (reads if autocommit else writes)
        kwargs.update(pool_size=kept, max_overflow=overflow, pool_recycle=1800)
    if autocommit:
        kwargs["isolation_level"] = "AUTOCOMMIT"
    inline = inline and settings.sqlite_path is not None
    if inline:
        kwargs["async_creator"] = inline_sqlite.connector(str(settings.sqlite_path), SQLITE_BUSY_TIMEOUT_MS / 1000)
    elif settings.is_sqlite:
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    engine = create_async_engine(settings.database_url, **kwargs)
    if settings.is_sqlite:
        # An inline connection must never wait in SQLite's busy handler, which would hold the event loop: it
        # is told at once and waits for the lock asynchronously (inline_sqlite.InlineCursor.execute).
        _configure_sqlite(engine.sync_engine, 0 if inline else SQLITE_BUSY_TIMEOUT_MS)
    elif pooled:
        _check_on_checkout(engine.sync_engine)
    replay.listen(engine)
    return engine


def _check_on_checkout(sync_engine: Engine) -> None:
    """Never hand out a pooled PostgreSQL connection the server has closed (a restart, an idle timeout).

    SQLAlchemy's pool_pre_ping does this with three round trips per checkout on asyncpg (BEGIN, an empty
    query, ROLLBACK), as many as a vote's own statements after its first. asyncpg already knows: when the
    server closes a connection, the event loop sees the socket close and marks it closed. The pool then
    discards it and connects afresh, so after a restart no request fails for a stale connection.
    """

    @event.listens_for(sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this pooled connection")


BUSY = "The server is too busy to answer now; retry in a moment."
UNREACHABLE = "The database cannot be reached; retry in a moment."


def unavailable(exc: BaseException) -> str | None:
    """What to tell a client whose request failed because the database is out of reach, not because of
    anything it sent: every pooled connection busy past the pool timeout, or no connection to be had. None
    for any other error (those are bugs, and stay masked and logged)."""
    if isinstance(exc, PoolTimeout):
        return BUSY
    state = _sqlstate(exc)
    if state is not None and (state.startswith("53") or state == "57P03"):  # too many clients; starting up
        return BUSY
    if state is not None and state.startswith("08"):  # connection exceptions
        return UNREACHABLE
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or isinstance(exc, OperationalError)):
        return BUSY if "locked" in str(exc.orig) else UNREACHABLE  # SQLite's lock held past busy_timeout
    if isinstance(exc, OSError | asyncio.TimeoutError):  # refused or timed out while connecting
        return UNREACHABLE
    return None


def _sqlstate(exc: BaseException) -> str | None:
    """PostgreSQL's SQLSTATE behind an error, however SQLAlchemy and the driver wrapped it."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str):
            return state
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


class Database:
    """Storage only: the engine, short read sessions and write transactions. What a write queues for after
    its commit (jobs, live events) is the unit of work's business (`ideaengine.platform.unit_of_work`)."""

    def __init__(self, settings: Settings, *, pooled: bool = True, job_thread: bool = False) -> None:
        """`pooled=False` for a job in a process of its own (rq forks per job); `job_thread` for the Database an
        in-process job thread keeps across its jobs (workers.base): small pools (`JOB_THREAD_POOL`) whose
        connections are pinged when checked out (the thread's loop sleeps between jobs, so it never saw a
        connection the server closed meanwhile), and none for health checks."""
        self.settings = settings
        size = JOB_THREAD_POOL if job_thread else None
        self.engine = create_engine(settings, pooled=pooled, inline=True, size=size, ping=job_thread)
        "Writes. On a SQLite file they run inline: they hold the single writer, which a hop to a thread for\n"
        "every step of every statement kept busy (see inline_sqlite); reads stay on aiosqlite's threads, where\n"
        "SQLite's C work on a long query runs beside the event loop instead of holding it."
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=True, info={SETTINGS_KEY: settings}
        )
        self._snapshots = self.sessions
        "Sessions of `read`: one transaction, so one snapshot, for its statements."
        path = os.path.realpath(settings.sqlite_path or "")
        self._writer = writer_lock.for_database(path) if settings.is_sqlite else None
        "SQLite has one writer at a time: this process's writers (server and in-process jobs alike) queue here,\n"
        "in order, rather than polling in SQLite's busy handler, where they could outwait busy_timeout."
        if settings.is_sqlite:
            threaded = create_engine(settings, pooled=pooled)
            self._snapshots = async_sessionmaker(
                threaded, expire_on_commit=False, autoflush=True, info={SETTINGS_KEY: settings}
            )
            read_engine = threaded.execution_options(**{AUTOCOMMIT_OPTION: True})
        else:
            # A pool of its own, in autocommit: handed back to a shared pool, each connection would be reset to
            # READ COMMITTED, a round trip per request for nothing.
            read_engine = create_engine(settings, pooled=pooled, autocommit=True, size=size, ping=job_thread)
        self.read_engine = read_engine
        self.reads = async_sessionmaker(read_engine, expire_on_commit=False, autoflush=False)
        self.health_engine = read_engine
        if pooled and not job_thread and not settings.is_sqlite:
            self.health_engine = create_engine(settings, autocommit=True, size=(1, 0))
        self.health_sessions = async_sessionmaker(self.health_engine, expire_on_commit=False, autoflush=False)
        self._kept: list[tuple[PoolProxiedConnection, float]] = []
        "Write-pool connections the driver writes keep between them (`driver_write`), each with when it was lent."
        self._keep = (
            0 if settings.is_sqlite or not pooled or job_thread else pool_sizes(settings.concurrent_operations)[1][0]
        )
        """As many as the write pool keeps open, one for each operation at once: kept for all of them, the votes
        of a full server skip the pool (8 kept: 14% more votes than none; 20 or 32: 3-9% more again, in two
        runs). A session that finds the pool with none idle takes one back first (`_make_room`). In-process jobs
        make no driver writes."""
        self.group = driver.Group(lambda: self.driver_write(atomic=False))
        "PostgreSQL: the one-statement driver writes (the vote), alone or committed together (`driver.Group`)."
        self._probe: sqlite3.Connection | None = None
        "SQLite only: the read-only connection `data_version` asks."
        self._pg_probe: asyncpg.Connection | None = None
        self._pg_probe_lock = asyncio.Lock()
        self._pg_asked = 0
        self._pg_answer: tuple[int, str] | None = None
        "PostgreSQL only: the connection `data_version` asks, one question at a time; how many callers asked so\n"
        "far; the last answer, with the count of callers that had asked when it was asked."

    async def data_version(self) -> str:
        """A value that changes with every commit that could change what a read started after this call sees,
        whoever made it (this server's pool, its jobs, another process).

        PostgreSQL: the current snapshot (xmin:xmax:in-progress xids). A commit either removes its xid from the
        in-progress list or, begun after the snapshot, carries an xid at or past its xmax, so no snapshot after
        a commit equals one before it; read-only transactions take no xid and change nothing. It is asked on a
        bare asyncpg connection kept for this alone: through a pooled session, the checkout and SQLAlchemy's
        layers cost a cached answer more than the question (0.43x the GraphQL floor for `{__typename}`, against
        1.1x on SQLite). SQLite: `PRAGMA data_version` of a read-only connection kept for this alone, which
        never writes; the pragma reads the WAL index in shared memory, microseconds, so it runs inline.
        An error (the database out of reach) propagates: the caller answers uncached.
        """
        if not self.settings.is_sqlite:
            self._pg_asked += 1
            mine = self._pg_asked
            async with self._pg_probe_lock:
                # Callers that queued while the last question was out share the next answer: asked after every
                # one of them arrived, it is as new as each needs.
                if self._pg_answer is not None and self._pg_answer[0] >= mine:
                    return self._pg_answer[1]
                covers = self._pg_asked
                if self._pg_probe is None or self._pg_probe.is_closed():
                    url = make_url(self.settings.database_url).set(drivername="postgresql")
                    self._pg_probe = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
                try:
                    snapshot = str(await self._pg_probe.fetchval("SELECT pg_current_snapshot()::text", timeout=5))
                    self._pg_answer = (covers, snapshot)
                    return snapshot
                except BaseException:
                    probe, self._pg_probe = self._pg_probe, None
                    probe.terminate()  # in an unknown state (cancelled mid-query, say): the next call opens anew
                    raise
        if self._probe is None:
            path = make_url(self.settings.database_url).database
            self._probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        return str(self._probe.execute("PRAGMA data_version").fetchone()[0])

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A short read-only session (one per task: an AsyncSession must not be shared)."""
        await self._make_room()
        async with self._snapshots() as session:
            yield session

    def reader(self) -> AsyncSession:
        """A session for the API's reads that runs each statement on its own: no BEGIN and ROLLBACK round
        trips, and no snapshot held open between the statements of a request. On PostgreSQL (READ COMMITTED)
        each statement saw a snapshot of its own anyway; on SQLite a request's statements already ran in
        separate sessions. The caller closes it; one task at a time uses it."""
        return self.reads()

    def health_reader(self) -> AsyncSession:
        """`reader`'s kind of session for the health check, from a one-connection pool of its own on PostgreSQL:
        under a burst every connection of the read pool is held by a request, and the check waited its turn
        for one (half a second behind 300 first-time voters)."""
        return self.health_sessions()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: commit on success, roll back on any error.

        Jobs or events still queued on the session at commit are a mistake (nobody would hand them to their
        transport): writes that queue effects go through the unit of work, which takes them off first.
        """
        await self._make_room()
        async with self._writer or contextlib.nullcontext(), self.sessions() as session:
            await session.connection(execution_options={WRITE_OPTION: True})
            try:
                yield session
                if forgotten := queued_effects(session):
                    raise RuntimeError(f"effects queued outside a unit of work would be lost: {forgotten}")
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @property
    def driver_writes(self) -> bool:
        """Whether `driver_write` runs here: on PostgreSQL (SQLite's statements cost no round trips)."""
        return not self.settings.is_sqlite

    @asynccontextmanager
    async def driver_write(self, *, atomic: bool = True) -> AsyncIterator[driver.Write]:
        """PostgreSQL only: `write` on the driver, for the vote (see `ideaengine.platform.driver`), on a connection
        of the same pool. asyncpg rolls back a write cancelled mid-statement (a test holds it to that); should the
        rollback itself fail, the connection is discarded, never handed to the next writer inside a transaction
        (SQLAlchemy's pool does not know of the driver's own). Without `atomic`, no transaction: a write of one
        statement (`driver.AfterLock`), which commits on its own."""
        if not self.driver_writes:
            raise RuntimeError("driver writes are PostgreSQL's")
        lent, since = await self._lend()
        con: asyncpg.Connection[Any] = lent.driver_connection
        try:
            async with con.transaction() if atomic else contextlib.nullcontext():
                work = driver.Write(con, self.engine.dialect, atomic=atomic)
                yield work
                if forgotten := queued_effects(work):
                    raise RuntimeError(f"effects queued outside a unit of work would be lost: {forgotten}")
        finally:
            discard = con.is_in_transaction() or con.is_closed()
            if not discard and len(self._kept) < self._keep and time.monotonic() - since < KEEP_SECONDS:
                self._kept.append((lent, since))
            else:
                await self._give_back(lent, discard)

    async def _lend(self) -> tuple[PoolProxiedConnection, float]:
        """A connection for a driver write, and when it was lent: one the driver writes kept, or the pool's.

        Kept ones skip the pool: its checkout and check-in each run in a greenlet and pass through the pool's
        bookkeeping. Under wrk, in alternation with the build before on one machine: 860-910 us of server CPU a
        vote against 1,000-1,110, and 14% more votes a second; PostgreSQL's CPU a vote fell too (663-726 us
        against 718-771), the same few backends taking the votes in turn. A kept connection the server has closed
        meanwhile is discarded, as the pool's checkout check (`_check_on_checkout`) would. The pool's own is the
        connection itself, not a Connection around it: AsyncEngine.connect() took three greenlet hops and built a
        Connection for nothing the vote uses."""
        while self._kept:
            lent, since = self._kept.pop()
            if not _closed(lent):
                return lent, since
            await self._give_back_kept(lent)
        return await self.engine.raw_connection(), time.monotonic()

    async def _give_back(self, lent: PoolProxiedConnection, discard: bool) -> None:
        """A driver write's connection back to the pool (`discard`ed, if it may not be reused)."""
        if discard or not _queued_on_return(self.engine.sync_engine.pool):
            # The check-in closes a connection, a wait: handed back to its end even when this task is
            # cancelled meanwhile, as AsyncConnection's own exit does.
            await asyncio.shield(greenlet_spawn(_hand_back, lent, discard))
        else:
            # Into the pool's queue, with nothing to wait for, so nothing can cut it short: no task for a
            # shield (3% of a vote's CPU).
            await greenlet_spawn(_hand_back, lent, False)

    async def _make_room(self) -> None:
        """Before a session takes a connection of the write pool (`write`, and `read` on PostgreSQL): when none is
        idle there, the oldest the driver writes keep goes back first. They keep what they may need again; the
        session needs one now, and an operation holds one write connection at a time, so together they never need
        more than the pool has."""
        if self._kept and not _idle(self.engine.sync_engine.pool):
            await self._give_back_kept(self._kept.pop(0)[0])

    async def _give_back_kept(self, lent: PoolProxiedConnection) -> None:
        """A kept connection back to the pool, discarded if the server has closed it."""
        await self._give_back(lent, _closed(lent))

    @property
    def kept_connections(self) -> int:
        """Write-pool connections the driver writes keep between them now (`driver_write`): the pool counts
        them as checked out."""
        return len(self._kept)

    async def analyze(self, tables: Sequence[str]) -> None:
        """Refresh PostgreSQL's planner statistics of `tables` after a bulk load. autovacuum analyzes a table
        only once 50 rows and a tenth of it have changed, so a freshly seeded board may never get there, and
        without statistics the planner assumes one row a table: the demo board's page then joined every score
        row of the board to every idea (a nested loop) and ran for nearly twice as long. SQLite: nothing."""
        if self.engine.dialect.name != "postgresql" or not tables:
            return
        quote = self.engine.dialect.identifier_preparer.quote
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE " + ", ".join(quote(name) for name in tables))
            await conn.commit()

    async def dispose(self) -> None:
        await self.group.close()
        while self._kept:
            await self._give_back_kept(self._kept.pop()[0])
        await self._handed_back()
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        if self._pg_probe is not None:
            probe, self._pg_probe = self._pg_probe, None
            await probe.close(timeout=5)
        if self.read_engine.sync_engine.pool is not self.engine.sync_engine.pool:
            await self.read_engine.dispose()
        if self.health_engine is not self.read_engine:
            await self.health_engine.dispose()
        await self.engine.dispose()

    async def _handed_back(self) -> None:
        """Before the pools are disposed, wait (up to DISPOSE_WAIT_SECONDS) for connections still lent out: a read
        graphql-core let finish after its operation, a request still being answered. Disposing a pool closes only
        the connections it holds; one handed back later went to the discarded pool, where nothing closed it, and
        the garbage collector dropped it (asyncpg and aiosqlite then warn of an unclosed connection)."""
        pools = {
            id(e.sync_engine.pool): e.sync_engine.pool for e in (self.engine, self.read_engine, self.health_engine)
        }
        deadline = time.monotonic() + DISPOSE_WAIT_SECONDS
        for pool in pools.values():
            while _lent(pool) and time.monotonic() < deadline:  # noqa: ASYNC110 (the pool has no event to wait on)
                await asyncio.sleep(0.01)


def _lent(pool: Pool) -> int:
    """How many of a pool's connections are out (0 for a pool that keeps none, such as NullPool)."""
    return int(pool.checkedout()) if isinstance(pool, QueuePool) else 0


def _queued_on_return(pool: Pool) -> bool:
    """Whether a connection checked in now goes into the pool's queue as it is (a QueuePool with room): no
    statement and no close, so nothing the check-in waits for."""
    return isinstance(pool, QueuePool) and pool.checkedin() < pool.size()


def _idle(pool: Pool) -> bool:
    """Whether the pool has a connection waiting to be checked out."""
    return not isinstance(pool, QueuePool) or pool.checkedin() > 0


def _closed(lent: PoolProxiedConnection) -> bool:
    """Whether the server has closed a lent connection (asyncpg marks it when the socket closes)."""
    con = lent.driver_connection
    return con is None or bool(con.is_closed())


def _hand_back(lent: PoolProxiedConnection, discard: bool) -> None:
    """A driver write's connection back to the pool; one to `discard` (still in a transaction after a rollback
    that failed, or closed by the server) is invalidated instead, never handed to the next writer (SQLAlchemy's
    pool does not know of the driver's own transactions)."""
    if discard:
        lent.invalidate()
    lent.close()


async def close_session(session: AsyncSession) -> None:
    """`session.close()`, run to its end even when the calling task is cancelled meanwhile (the cancellation is
    raised once it has), as AsyncSession's own `async with` exit does: for a session kept beyond one block
    (`SharedReads`); a session of one block is opened with `async with`. graphql-core may cancel a sibling field's
    task more than once, and a bare close() cancelled partway made the pool throw the connection away (on SQLite,
    closed by a background task that could outlive the loop, or by the collector)."""
    async with session:
        pass


def queued_effects(write: AsyncSession | driver.Write) -> list[str]:
    """The kinds of after-commit effects queued on a write (see `jobs.after_commit`, `events.after_commit`)."""
    return [key for key in EFFECT_KEYS if write.info.get(key)]
