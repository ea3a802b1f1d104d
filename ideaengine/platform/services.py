"""The process-wide services a running engine holds: settings, database, secret box, jobs, events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine.platform.db import Database
from ideaengine.platform.driver import Grouped, Write
from ideaengine.platform.events import Broker, create_broker
from ideaengine.platform.jobs import JobQueue, create_queue
from ideaengine.platform.ratelimit import RateLimits
from ideaengine.platform.secrets_box import SecretBox, load_server_key
from ideaengine.platform.settings import Settings
from ideaengine.platform.unit_of_work import UnitOfWork

T = TypeVar("T")


@dataclass
class Services:
    settings: Settings
    db: Database
    box: SecretBox
    queue: JobQueue
    broker: Broker
    work: UnitOfWork
    "Write transactions whose jobs and events reach this process's queue and broker after commit."
    limits: RateLimits

    @classmethod
    def create(cls, settings: Settings, *, pooled: bool = True) -> Services:
        db = Database(settings, pooled=pooled)
        broker = create_broker(settings)  # Redis pub/sub when IDEAENGINE_REDIS_URL is set
        queue = create_queue(settings, broker)
        box = SecretBox(load_server_key(settings))
        limits = RateLimits(
            settings.rate_limits(),
            per_ip_factor=settings.rate_limit_ip_factor,
            redis_url=settings.redis_url,
            namespace=settings.queue_name,
            enabled=settings.rate_limits_enabled,
        )
        return cls(settings, db, box, queue, broker, UnitOfWork(db, queue, broker), limits)

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One write; its effects are handed over after commit (see `ideaengine.platform.unit_of_work`)."""
        return self.work.transaction()

    def on_driver(self, write: Callable[[Write], Awaitable[T]]) -> Awaitable[T]:
        """PostgreSQL only: `write` in a `transaction` on the driver, for the vote (`UnitOfWork.on_driver`)."""
        return self.work.on_driver(write)

    def at_once(self, write: Callable[[Grouped], Awaitable[T]]) -> Awaitable[T]:
        """PostgreSQL only: `write` as one statement, alone or with others' (`UnitOfWork.at_once`)."""
        return self.work.at_once(write)

    async def close(self) -> None:
        await self.limits.close()
        await self.queue.close()
        await self.broker.close()
        await self.db.dispose()
