"""The process-wide services a running engine holds: settings, database, secret box, jobs, events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine.platform.db import Database
from ideaengine.platform.driver import Write
from ideaengine.platform.events import Broker, create_broker
from ideaengine.platform.jobs import JobQueue, create_queue
from ideaengine.platform.ratelimit import RateLimits
from ideaengine.platform.secrets_box import SecretBox, load_server_key
from ideaengine.platform.settings import Settings
from ideaengine.platform.unit_of_work import UnitOfWork


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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write; its effects are handed over after commit (see `ideaengine.platform.unit_of_work`)."""
        async with self.work.transaction() as session:
            yield session

    @asynccontextmanager
    async def driver_transaction(self, *, atomic: bool = True) -> AsyncIterator[Write]:
        """PostgreSQL only: `transaction` on the driver, for the vote (see `ideaengine.platform.driver`)."""
        async with self.work.driver_transaction(atomic=atomic) as work:
            yield work

    async def close(self) -> None:
        await self.limits.close()
        await self.queue.close()
        await self.broker.close()
        await self.db.dispose()
