"""One write: open a transaction, commit, and only then hand what it queued to the transports.

Domain code queues effects on its session while it writes: jobs by dotted name (`jobs.after_commit`,
so the domain never imports `workers`) and live events (`events.after_commit`; webhook deliveries are
rows plus a job). Nothing is sent before the commit succeeds, and nothing at all for a write that rolled
back, so no job runs and no subscriber hears of a write that did not happen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine.platform.db import Database
from ideaengine.platform.driver import Grouped, Write
from ideaengine.platform.events import EVENTS_KEY, Broker, Event
from ideaengine.platform.jobs import JOBS_KEY, JobQueue, JobRequest

T = TypeVar("T")


@dataclass
class UnitOfWork:
    """Write transactions whose effects reach `queue` and `broker` after commit.

    Either transport may be None to drop that kind of effect on purpose: the demo seeds hundreds of
    writes without a refresh each (the periodic sweep catches up), and tests simulate a lost job.
    """

    db: Database
    queue: JobQueue | None
    broker: Broker | None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.db.write() as session:
            yield session
            events, requests = _taken(session.info)
        await self._hand_over(events, requests)

    async def on_driver(self, write: Callable[[Write], Awaitable[T]]) -> T:
        """`write` as `transaction` runs a block, on PostgreSQL's driver, for the vote (see
        `ideaengine.platform.driver`), returning what it returns. A call, not a block: a generator's block around
        the driver's cost a vote 1.5% of its CPU."""
        async with self.db.driver_write() as work:
            done = await write(work)
            events, requests = _taken(work.info)
        await self._hand_over(events, requests)
        return done

    async def at_once(self, write: Callable[[Grouped], Awaitable[T]]) -> T:
        """`write` as one statement on PostgreSQL's driver, for the vote: alone, or committed together with other
        callers' (`driver.Group`); the effects it queued are handed over once it has returned, committed."""
        work = Grouped(self.db.group)
        done = await write(work)
        events, requests = _taken(work.info)
        await self._hand_over(events, requests)
        return done

    async def _hand_over(self, events: list[Event], requests: list[JobRequest]) -> None:
        """Committed: hand over. Both transports are best effort and never fail the write (it is done)."""
        if events and self.broker is not None:
            await self.broker.publish(events)
        if requests and self.queue is not None:
            await self.queue.submit(requests)


def _taken(info: dict[Any, Any]) -> tuple[list[Event], list[JobRequest]]:
    """What a write queued, taken off it before its commit (`Database.write` refuses to commit what is left)."""
    return info.pop(EVENTS_KEY, []), info.pop(JOBS_KEY, [])
