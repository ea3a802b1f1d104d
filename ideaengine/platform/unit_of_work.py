"""One write: open a transaction, commit, and only then hand what it queued to the transports.

Domain code queues effects on its session while it writes: jobs by dotted name (`jobs.after_commit`,
so the domain never imports `workers`) and live events (`events.after_commit`; webhook deliveries are
rows plus a job). Nothing is sent before the commit succeeds, and nothing at all for a write that rolled
back, so no job runs and no subscriber hears of a write that did not happen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine.platform.db import Database
from ideaengine.platform.driver import Write
from ideaengine.platform.events import EVENTS_KEY, Broker, Event
from ideaengine.platform.jobs import JOBS_KEY, JobQueue, JobRequest


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

    @asynccontextmanager
    async def driver_transaction(self, *, atomic: bool = True) -> AsyncIterator[Write]:
        """`transaction` on PostgreSQL's driver, for the vote (see `ideaengine.platform.driver`); without `atomic`,
        a write of one statement, which commits on its own."""
        async with self.db.driver_write(atomic=atomic) as work:
            yield work
            events, requests = _taken(work.info)
        await self._hand_over(events, requests)

    async def _hand_over(self, events: list[Event], requests: list[JobRequest]) -> None:
        """Committed: hand over. Both transports are best effort and never fail the write (it is done)."""
        if events and self.broker is not None:
            await self.broker.publish(events)
        if requests and self.queue is not None:
            await self.queue.submit(requests)


def _taken(info: dict[Any, Any]) -> tuple[list[Event], list[JobRequest]]:
    """What a write queued, taken off it before its commit (`Database.write` refuses to commit what is left)."""
    return info.pop(EVENTS_KEY, []), info.pop(JOBS_KEY, [])
