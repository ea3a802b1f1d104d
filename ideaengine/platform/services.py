"""The process-wide services a running engine holds: settings, database, secret box, jobs, events."""

from __future__ import annotations

from dataclasses import dataclass

from ideaengine.platform.db import Database
from ideaengine.platform.events import Broker, create_broker
from ideaengine.platform.jobs import JobQueue, create_queue
from ideaengine.platform.ratelimit import RateLimits
from ideaengine.platform.secrets_box import SecretBox, load_server_key
from ideaengine.platform.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    box: SecretBox
    queue: JobQueue
    broker: Broker
    limits: RateLimits

    @classmethod
    def create(cls, settings: Settings, *, pooled: bool = True) -> Services:
        db = Database(settings, pooled=pooled)
        db.broker = create_broker(settings)  # Redis pub/sub when IDEAENGINE_REDIS_URL is set
        db.queue = create_queue(settings, db.broker)
        limits = RateLimits(
            settings.rate_limits(),
            per_ip_factor=settings.rate_limit_ip_factor,
            redis_url=settings.redis_url,
            namespace=settings.queue_name,
        )
        return cls(
            settings=settings,
            db=db,
            box=SecretBox(load_server_key(settings)),
            queue=db.queue,
            broker=db.broker,
            limits=limits,
        )

    async def close(self) -> None:
        await self.queue.close()
        await self.broker.close()
        await self.db.dispose()
