"""`ideaengine worker`: an rq worker that outlives Redis outages, and the sweep that makes scores converge."""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import multiprocessing
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from rq import Worker
from rq.exceptions import StopRequested

from ideaengine import sweep
from ideaengine.platform import logs
from ideaengine.platform.db import Database
from ideaengine.platform.jobs import RqQueue
from ideaengine.platform.settings import Settings

log = logging.getLogger("ideaengine.worker")

BACKOFF_MAX_SECONDS = 30.0
SWEEP_LOCK = "ideaengine:sweep-lock"
WORKER_TTL_SECONDS = 30
JOB_MONITORING_INTERVAL = 5
MAINTENANCE_INTERVAL = 10
SCHEDULER_PROCESS = "Scheduler"
"The name rq gives its scheduler's process (`RQScheduler.start`), the one child of the worker's with that name."
SCHEDULER_STOP_SECONDS = 2.0
SCHEDULER_STOP_TRIES = 5
"""How long the scheduler has to end after each SIGTERM (its loop looks for the request every second), and how
many it is sent before it is killed."""
PUBSUB_POLL_SECONDS = 1.0
PUBSUB_RETRY_SECONDS = 2


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    """Supervise an rq worker: restart it with backoff when Redis goes away, stop on SIGINT/SIGTERM.

    A signal while idle ends the worker at once; while a job runs, after that job (a second signal kills
    the job, as rq's cold shutdown does). Either way the scheduler and sweeper children end with it.
    """
    assert settings.redis_url
    # `kill -USR1` prints every thread's stack of the worker (and of its children, which inherit it) on
    # stderr: how a worker that does not stop can be diagnosed where it runs.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    stop = threading.Event()
    running: list[_Worker] = []
    supervisor = os.getpid()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != supervisor:
            # A child rq forked (its scheduler) before it installed handlers of its own: it ends as the signal
            # would end it by default. Standing in here, this set a flag nothing in the child reads, and the
            # worker's teardown waited on that child for good (a stop signal landing as the scheduler started).
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        # rq installs its own handlers just before its loop; until then (and between workers) this one stands
        # in, and a worker that is starting up stops at its first dequeue.
        log.info("worker: %s received, stopping", signal.Signals(signum).name)
        stop.set()
        if running:
            running[0].stop_requested = True  # raising here could land anywhere; the worker checks at dequeue

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # The sweeper is a spawned process, not a thread: rq forks a work-horse per job, and a fork taken
    # while another thread holds a lock (logging, the import lock, a driver's) leaves the child hung.
    sweeper = multiprocessing.get_context("spawn").Process(
        target=_sweep_loop, args=(settings, os.getpid()), name="ideaengine-sweep", daemon=True
    )
    sweeper.start()  # sweeps at once, so a worker that starts re-enqueues every stale board
    backoff = 1.0
    try:
        while not stop.is_set():
            worker = None
            try:
                worker = _new_worker(settings)
                running.append(worker)
                try:
                    worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
                except StopRequested:
                    # The signal landed just as rq installed its handlers, before its loop, whose teardown
                    # (scheduler, registration) then never runs: run it here. The worker asked to stop
                    # (`stop_requested`), so this ends it, with exit status 0.
                    worker.teardown()  # type: ignore[no-untyped-call]  # rq leaves it unannotated
                backoff = 1.0
            except RedisError as exc:
                log.error("Redis is unavailable (%s); retrying in %.0fs", exc, backoff)
            finally:
                running.clear()
                # rq leaves its cold-shutdown handlers installed when work() returns: take the signals back.
                signal.signal(signal.SIGINT, on_signal)
                signal.signal(signal.SIGTERM, on_signal)
            if burst or (worker is not None and worker.stop_requested):
                return
            stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
    finally:
        sweeper.terminate()
        sweeper.join(5)


class _Worker(Worker):
    """rq's worker, remembering that a signal asked it to stop (rq ends an idle worker's loop without a flag)."""

    stop_requested = False

    def handle_warm_shutdown_request(self) -> None:
        self.stop_requested = True
        super().handle_warm_shutdown_request()  # type: ignore[no-untyped-call]  # rq leaves it unannotated

    def subscribe(self) -> None:
        """rq's own, polling its pub/sub every second instead of every 60: from redis 8.2 on, the teardown's
        `PubSubWorkerThread.stop()` waits for the thread's poll to end, so a signal at the wrong moment kept
        an idle worker alive for up to a minute."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # rq annotates it as None
            sleep_time=PUBSUB_POLL_SECONDS, daemon=True, exception_handler=self._pubsub_failed
        )

    def _pubsub_failed(self, exc: Exception, pubsub: Any, thread: Any) -> None:
        """Keep listening through a lost Redis connection, as the worker's own loop does (redis-py subscribes
        again once it is back); end the thread on anything else. Ours, not rq's private handler."""
        if not isinstance(exc, RedisConnectionError):
            self.log.warning("Worker %s: pub/sub thread ends on %s", self.name, exc)
            raise exc
        wait = PUBSUB_RETRY_SECONDS
        self.log.error("Worker %s: Redis unreachable (%s); listening again in %d s", self.name, exc, wait)
        time.sleep(wait)

    def stop_scheduler(self) -> None:
        """rq's, but the scheduler is sent SIGTERM again until it ends, and killed if it will not. A signal that
        reaches a child rq has just forked, before CPython has set the child up, is dropped (CPython clears a new
        child's pending signals), and rq's own wait for the scheduler then lasted for good: a worker told to stop
        just after it started hung in 1 of 6 runs of the landing test, its scheduler asleep in its loop."""
        for child in multiprocessing.active_children():
            if child.name != SCHEDULER_PROCESS:
                continue
            for _ in range(SCHEDULER_STOP_TRIES):
                if child.pid is None or not child.is_alive():
                    break
                os.kill(child.pid, signal.SIGTERM)
                child.join(SCHEDULER_STOP_SECONDS)
            if child.is_alive():
                self.log.warning("Worker %s: the scheduler did not stop; killing it", self.name)
                child.kill()
                child.join()

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        if self.stop_requested:  # asked before rq's own handlers were in place: leave through rq's loop
            raise StopRequested()
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)


def _new_worker(settings: Settings) -> _Worker:
    from rq import Queue

    connection = Redis.from_url(settings.redis_url or "", socket_connect_timeout=5, health_check_interval=10)
    connection.ping()
    return _Worker(
        [Queue(settings.queue_name, connection=connection)],
        connection=connection,
        worker_ttl=WORKER_TTL_SECONDS,
        job_monitoring_interval=JOB_MONITORING_INTERVAL,
        maintenance_interval=MAINTENANCE_INTERVAL,
    )


def _sweep_loop(settings: Settings, parent: int) -> None:
    """Sweep every interval until the worker that started us is gone (even if it was SIGKILLed)."""
    logs.configure(settings.log_level, settings.log_format)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when we stop
    while os.getppid() == parent:
        try:
            count = asyncio.run(sweep_once(settings))
            if count:
                log.info("sweep: enqueued %d refreshes of stale boards", count)
        except Exception as exc:  # a sweep must never kill the worker; the next one tries again
            log.warning("sweep failed: %s", exc)
        deadline = time.monotonic() + settings.sweep_interval_seconds
        while time.monotonic() < deadline and os.getppid() == parent:
            time.sleep(0.2)


async def sweep_once(settings: Settings) -> int:
    """One sweep across all workers per period: a Redis lock elects the sweeper, job ids dedupe per board."""
    period = str(int(time.time() // settings.sweep_interval_seconds))
    queue = RqQueue(settings.redis_url or "", settings.queue_name, settings.refresh_delay_seconds)
    try:
        if not queue.redis.set(
            f"{SWEEP_LOCK}:{settings.queue_name}",
            period,
            nx=True,
            ex=max(int(settings.sweep_interval_seconds * 0.9), 1),
        ):
            return 0
        db = Database(settings, pooled=False)
        try:
            return await sweep.sweep(db, queue, period=period)
        finally:
            await db.dispose()
    finally:
        await queue.close()


def worker_status(settings: Settings) -> dict[str, Any]:
    """Queue depth, jobs running, and the failed registry with each job's last error line."""
    from rq import Queue, Worker
    from rq.job import Job

    connection = Redis.from_url(settings.redis_url or "", socket_connect_timeout=5)
    queue = Queue(settings.queue_name, connection=connection)
    failed_ids = queue.failed_job_registry.get_job_ids()
    failed = []
    for job in Job.fetch_many(failed_ids[:50], connection=connection):
        if job is None:
            continue
        error = (job.exc_info or "").strip().splitlines()
        failed.append(
            {
                "id": job.id,
                "description": job.description,
                "error": error[-1] if error else None,
                "failedAt": job.ended_at.isoformat() if job.ended_at else None,
            }
        )
    return {
        "queue": settings.queue_name,
        "queued": queue.count,
        "scheduled": queue.scheduled_job_registry.count,
        "started": queue.started_job_registry.count,
        "failed": len(failed_ids),
        "workers": Worker.count(queue=queue),
        "failedJobs": failed,
    }
