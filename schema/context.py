"""The per-request context: who is calling, the services, and this request's DataLoaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine.errors import DomainError, ErrorCode
from ideaengine.identity import Actor, ActorCache
from ideaengine.platform.db import Database, close_session
from ideaengine.platform.driver import Grouped, NeedsSession, NeedsTransaction, Write
from ideaengine.platform.services import Services

T = TypeVar("T")

if TYPE_CHECKING:
    from schema.loaders import Loaders


RATE_NOUNS = {
    "submit": "ideas",
    "comment": "comments",
    "vote": "votes",
    "compare": "comparisons",
    "react": "reactions",
    "report": "reports",
    "read": "requests",
}


class SharedReads:
    """One read session for a whole request, lent to one task at a time.

    graphql-core resolves sibling fields concurrently and an AsyncSession must not be used by two tasks
    at once; a lock serialises them, so a request holds one pooled connection (one checkout, one pre-ping)
    instead of one per DataLoader batch. The session is opened on first use and handed back by `forget`
    (after a commit) or `close` (when the operation ends)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self._session: AsyncSession | None = None
        self._closed = False

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._lock:
            if not self._closed:
                if self._session is None:
                    self._session = self._db.reader()
                try:
                    yield self._session
                except BaseException:
                    # A read that failed, or was cancelled mid-statement (graphql-core cancels the siblings of a
                    # failed non-null field), can leave the connection unusable: the next borrower opens a fresh
                    # one instead of failing with "Can't reconnect until invalid transaction is rolled back".
                    await self._drop()
                    raise
                return
        # A resolver graphql-core lets finish after the operation (a sibling of a failed non-null field)
        # reads on a session of its own, so nothing reopens the shared one after it was closed.
        async with self._db.reader() as session:  # closed to its end, even if this task is cancelled meanwhile
            yield session

    async def data_version(self) -> str:
        """The database's data version now (see `Database.data_version`): no connection of the request's own."""
        return await self._db.data_version()

    async def forget(self) -> None:
        """Hand the connection back; objects read so far are forgotten, so a later read sees fresh rows. Called
        by a resolver after its write: a task graphql-core may cancel, so the close runs to its end. With no
        session open and none being opened there is nothing to forget (a read opened after the write's commit
        sees it anyway)."""
        if self._session is None and not self._lock.locked():
            return
        async with self._lock:
            await self._drop()

    async def _drop(self, *, cancellable: bool = False) -> None:
        session, self._session = self._session, None
        if session is not None:
            await (session.close() if cancellable else close_session(session))

    async def close(self) -> None:
        """The operation is over (`GraphQLApp.__call__`, in the request's own task, which nothing but the server's
        shutdown cancels): a plain close, without `close_session`'s task, on every request that read."""
        self._closed = True
        async with self._lock:
            await self._drop(cancellable=True)


@dataclass
class Context:
    services: Services
    actor: Actor
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    "The graphql-transport-ws connection_init payload (browsers cannot set WebSocket headers)."
    shared_reads: SharedReads | None = field(default=None, repr=False)
    "Set for an HTTP request (closed when its operation ends); a WebSocket's context outlives any one read."
    actors: ActorCache | None = field(default=None, repr=False)
    "The server's cache of resolved callers, so a revoke through this server takes effect at once."
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def client_ip(self) -> str | None:
        client = getattr(self.request, "client", None)
        return None if client is None else str(client.host)

    async def spend(self, kind: str) -> None:
        """One unit of the caller's `kind` budget (per user and per IP); RATE_LIMITED when none is left."""
        user = None if self.actor.user_id is None else str(self.actor.user_id)
        wait = await self.services.limits.hit(kind, user, self.client_ip)
        if wait is not None:
            raise DomainError(
                ErrorCode.RATE_LIMITED,
                f"Too many {RATE_NOUNS[kind]} for now: try again in {wait} second{'s' * (wait != 1)}.",
                retry_after=wait,
            )

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            from schema.loaders import Loaders

            self._loaders = Loaders(self, self.actor)
        return self._loaders

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write (a unit of work: effects go out after commit); then the loaders forget what they cached."""
        async with self.services.transaction() as session:
            yield session
        await self._written()

    async def write(
        self,
        at_once: Callable[[Grouped], Awaitable[T]],
        on_driver: Callable[[Write], Awaitable[T]],
        in_session: Callable[[AsyncSession], Awaitable[T]],
    ) -> T:
        """One write, on PostgreSQL's driver where it can (`ideaengine.platform.driver`: the vote), else, or when
        the driver's steps raise NeedsSession (nothing written), in a session. On the driver it is tried first as
        one statement, alone or committed together with other callers' (`at_once`), then, when that raises
        NeedsTransaction (nothing written), in a transaction of its own (`on_driver`)."""
        if self.services.db.driver_writes:
            try:
                try:
                    done = await self.services.at_once(at_once)
                except NeedsTransaction:
                    done = await self.services.on_driver(on_driver)
                await self._written()
                return done
            except NeedsSession:
                pass
        async with self.transaction() as session:
            return await in_session(session)

    def release(self) -> None:
        """The operation is over: drop its loaders. They refer to this context (to read through it) and it to
        them, a cycle that kept every row a request read, and the request's whole graph with it, until the
        garbage collector's next pass: about 700 objects a page, so a pass every few requests, and on a large
        heap some of them long (1.4 ms of a 10,000-idea board's 9 ms page, before `app.gc_freeze`)."""
        self._loaders = None

    async def _written(self) -> None:
        """After a write: the loaders forget what they cached, and the shared reads what they read."""
        self._loaders = None
        if self.shared_reads is not None:
            await self.shared_reads.forget()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session to read with: the request's shared one, or else a short one of its own. Never hold it
        across a DataLoader load (the loader's batch reads through here too)."""
        if self.shared_reads is not None:
            async with self.shared_reads.session() as shared:
                yield shared
            return
        async with self.services.db.reader() as session:
            yield session


Info = strawberry.Info[Context, None]
