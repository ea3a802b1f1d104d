"""What every job shares: its own engine (never across a fork or a loop) and one log line with its figures."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

from ideaengine.platform import events, jobs
from ideaengine.platform.db import Database
from ideaengine.platform.jobs import (
    JOB_TIMEOUT_SECONDS,
    RETRY_INTERVALS,
    JobRequest,
    RqQueue,
    current_settings,
    run_job,
)
from ideaengine.platform.unit_of_work import UnitOfWork

log = logging.getLogger("ideaengine.jobs")
T = TypeVar("T")


@asynccontextmanager
async def job_database() -> AsyncIterator[Database]:
    """A NullPool engine created and disposed inside the job: rq forks per job and runs a fresh loop."""
    db = Database(current_settings(), pooled=False)
    try:
        yield db
    finally:
        await db.dispose()


class ThreadRuntime:
    """What an in-process job thread keeps across its jobs: an event loop and a Database on it.

    A job run afresh builds both and connects anew: an SSL attempt, authentication, the dialect's first-connect
    queries, and every statement prepared again on the new connection. That was most of a score refresh of the
    demo board under a stream of votes (50 ms of CPU against 19 ms kept, py-spy: Engine.connect and asyncpg's
    prepare), one refresh a second per board (DECISIONS.md 13), each also forking a PostgreSQL backend.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.db = Database(current_settings(), job_thread=True)

    def run(self, body: Callable[[Database], Awaitable[T]]) -> T:
        return self.loop.run_until_complete(body(self.db))

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.db.dispose())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()


def with_database(body: Callable[[Database], Awaitable[T]]) -> T:
    """Run a job's async body with a Database: on an in-process runner's thread, on what that thread keeps
    (`ThreadRuntime`); under rq, where a job has a process of its own, or run by hand, in a fresh event loop
    with an engine made and disposed for it (`job_database`)."""
    runner = jobs.current_runner()
    if runner is not None:
        return runner.kept("workers.base.ThreadRuntime", ThreadRuntime, ThreadRuntime.close).run(body)

    async def main() -> T:
        async with job_database() as db:
            return await body(db)

    return asyncio.run(main())


def run(job: str, board_id: int, body: Callable[[Database], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Run an async job body (`with_database`) and log one line: job, board, duration and counts."""
    if isinstance(board_id, bool) or not isinstance(board_id, int):
        raise TypeError(f"{job}: board_id must be an int, not {board_id!r}")
    started = time.monotonic()
    counts = with_database(body)
    fields = {"job": job, "board": board_id, "seconds": round(time.monotonic() - started, 4), **counts}
    log.info("job %s done", job, extra={"fields": fields})
    return counts


def run_again(delay: float, name: str, *args: Any) -> bool:
    """From a running job: run `name(*args)` after `delay` seconds, through rq's scheduler under rq and on the
    in-process runner's loop otherwise, so no worker or thread waits idle. False when neither started the
    job (run by hand): the caller waits itself, or leaves it to the sweep."""
    from rq import Queue, Retry, get_current_job

    job = get_current_job()
    if job is not None:
        Queue(job.origin, connection=job.connection).enqueue_in(
            timedelta(seconds=delay),
            run_job,
            name,
            list(args),
            None,
            job_timeout=JOB_TIMEOUT_SECONDS,
            retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
            description=f"{name}{args!r} retry",
        )
        return True
    return jobs.run_later(delay, name, *args)


class JobEffects:
    """Where a job's own writes send what they queued for after commit: its live events as jobs publish them
    (`events.publish_from_job`), its jobs to rq when Redis is set, else to the in-process runner that started
    it. Run by hand with neither, the jobs are dropped: the sweep finds what they would have done."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    async def publish(self, found: Sequence[events.Event]) -> None:
        await events.publish_from_job(self.settings, found)

    async def submit(self, requests: Sequence[JobRequest]) -> None:
        if self.settings.redis_url:
            queue = RqQueue(self.settings.redis_url, self.settings.queue_name, self.settings.refresh_delay_seconds)
            try:
                await queue.submit(requests)
            finally:
                await queue.close()
            return
        for request in requests:
            jobs.run_later(0.0, request.name, *request.args)

    def depth(self) -> int:
        return 0

    async def close(self) -> None:
        return None

    def subscribe(self, channel: str) -> Any:
        raise NotImplementedError("jobs publish, they never subscribe")


def job_work(db: Database) -> UnitOfWork:
    """Write transactions of a job, whose jobs and live events go out after commit like the API's."""
    effects = JobEffects(db.settings)
    return UnitOfWork(db, effects, effects)
