"""Background jobs by dotted name, over rq (distributed) or an in-process runner (embedded).

Domain code calls `after_commit(session, "workers.scores.refresh_board", board_id)`; the unit of work
(`ideaengine.platform.unit_of_work`) submits the job only once the transaction has committed. Both runners call
the same plain functions through `run_job`, which clears the coalescing marker when the job *starts*
(DECISIONS.md 13).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ideaengine.platform import events
from ideaengine.platform.events import Broker
from ideaengine.platform.settings import Settings, get_settings

if TYPE_CHECKING:
    from redis.asyncio import Redis as AsyncRedis

log = logging.getLogger("ideaengine.jobs")
T = TypeVar("T")

PENDING_PREFIX = "ideaengine:pending:"
PENDING_TTL_SECONDS = 120
"A marker outlives its job's delay by far; if the job is lost the marker expires and the sweep catches up."
JOB_TIMEOUT_SECONDS = 600
RETRY_INTERVALS = (2, 10, 60)
"rq retries a failing job after these many seconds, then leaves it in the failed registry."


_settings: contextvars.ContextVar[Settings | None] = contextvars.ContextVar("job_settings", default=None)


def current_settings() -> Settings:
    """The settings a job runs under: the in-process runner's own, or the worker's environment."""
    return _settings.get() or get_settings()


@dataclass(frozen=True)
class JobRequest:
    name: str
    args: tuple[Any, ...]
    coalesce: bool = False
    job_id: str | None = None
    "A fixed rq job id, so a periodic sweep enqueues one job per board per period however many workers sweep."

    @functools.cached_property
    def key(self) -> str:
        return PENDING_PREFIX + self.name + ":" + ":".join(map(str, self.args))


JOBS_KEY = "ideaengine.jobs"
"Where a session keeps the jobs queued for after its commit."


def after_commit(session: events.Writing, name: str, *args: Any, coalesce: bool = False) -> None:
    """Queue a job to run once the session commits; `coalesce` folds repeats into one pending run."""
    requests: list[JobRequest] = session.info.setdefault(JOBS_KEY, [])
    request = JobRequest(name, tuple(args), coalesce)
    if request not in requests:
        requests.append(request)


def resolve(name: str) -> Callable[..., Any]:
    module_name, _, attribute = name.rpartition(".")
    if not module_name:
        raise ValueError(f"job name {name!r} is not a dotted path")
    function = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(function):
        raise ValueError(f"job name {name!r} names nothing callable")
    return function  # type: ignore[no-any-return]


def run_job(
    name: str, args: Sequence[Any] = (), pending_key: str | None = None, settings: Settings | None = None
) -> Any:
    """The function both runners execute: clear the marker, then run the named job."""
    if pending_key is not None:
        _clear_rq_marker(pending_key)
    started = time.monotonic()
    token = _settings.set(settings) if settings is not None else None
    try:
        result = resolve(name)(*args)
    finally:
        if token is not None:
            _settings.reset(token)
    log.debug("job %s%r took %.3fs", name, tuple(args), time.monotonic() - started)
    return result


def _clear_rq_marker(key: str) -> None:
    from rq import get_current_job

    job = get_current_job()
    if job is not None:
        job.connection.delete(key)


class JobQueue(Protocol):
    async def submit(self, requests: Sequence[JobRequest]) -> None: ...
    def depth(self) -> int: ...
    async def close(self) -> None: ...


_runner: contextvars.ContextVar[InProcessQueue | None] = contextvars.ContextVar("job_runner", default=None)
"The in-process runner that started the current job (its task and thread copy the context)."


def current_runner() -> InProcessQueue | None:
    """The in-process runner whose thread runs the calling job; None under rq or when run by hand."""
    return _runner.get()


JOB_THREADS = 4
"""Threads an in-process runner runs jobs on, at most this many at once; each keeps what `InProcessQueue.kept`
made on it (workers.base keeps an event loop and a small pool of connections per thread)."""


class InProcessQueue:
    """Runs jobs in threads off the event loop, coalescing repeats in memory.

    A job it runs reaches back for two things: the server's broker (live events a job raises reach this
    server's subscribers) and `run_later` (a retry waits on the event loop, not in a thread it would hold).
    """

    def __init__(self, settings: Settings, broker: Broker | None = None) -> None:
        self.settings = settings
        self.broker = broker
        self.delay = settings.refresh_delay_seconds
        self._pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._later: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads = ThreadPoolExecutor(JOB_THREADS, thread_name_prefix="ideaengine-job")
        self._own = threading.local()
        self._kept: list[tuple[Any, Callable[[Any], None]]] = []
        self._kept_lock = threading.Lock()
        self._closed = False

    def kept(self, key: str, make: Callable[[], T], close: Callable[[T], None]) -> T:
        """The calling job thread's own `key`: made by `make` on its first job there, kept for its later jobs,
        and closed by `close` (in a job thread, no loop running) when the runner closes. For what a job would
        otherwise build and tear down on every run."""
        own: dict[str, Any] = self._own.__dict__
        if key not in own:
            own[key] = made = make()
            with self._kept_lock:
                self._kept.append((made, close))
        return own[key]  # type: ignore[no-any-return]

    async def submit(self, requests: Sequence[JobRequest]) -> None:
        self._loop = asyncio.get_running_loop()
        # Most submissions under a stream of votes are a board's refresh already waiting: nothing to start.
        requests = [r for r in requests if not (r.coalesce and r.key in self._pending)]
        if not requests:
            return
        token = _runner.set(self)
        try:
            with events.local_broker(self.broker) if self.broker is not None else contextlib.nullcontext():
                for request in requests:
                    if request.coalesce:
                        if request.key in self._pending:  # a repeat within these requests
                            continue
                        self._pending.add(request.key)
                    task = self._loop.create_task(self._run(request))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            _runner.reset(token)

    def run_later(self, delay: float, name: str, *args: Any) -> None:
        """Submit the job again after `delay` seconds; callable from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            raise RuntimeError("the in-process runner is not running")
        loop.call_soon_threadsafe(self._schedule, delay, JobRequest(name, tuple(args)))

    def _schedule(self, delay: float, request: JobRequest) -> None:
        task = asyncio.get_running_loop().create_task(self._after(delay, request))
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _after(self, delay: float, request: JobRequest) -> None:
        await asyncio.sleep(delay)
        await self.submit([request])

    async def _run(self, request: JobRequest) -> None:
        if request.coalesce:
            await asyncio.sleep(self.delay)
            self._pending.discard(request.key)
        if self._closed:
            log.info("job %s%r not run: the runner has closed (the sweep catches up)", request.name, request.args)
            return
        call = functools.partial(run_job, request.name, request.args, None, self.settings)
        try:
            # asyncio.to_thread's own steps, on the runner's threads: the job sees this task's context (_runner).
            await asyncio.get_running_loop().run_in_executor(self._threads, contextvars.copy_context().run, call)
        except Exception:
            log.exception("job %s%r failed", request.name, request.args)

    def depth(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for every submitted job (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        # Waiting retries are not waited for: what they would retry stays recorded as pending.
        for task in list(self._later):
            task.cancel()
        await asyncio.gather(*self._later, return_exceptions=True)
        await self.drain()
        self._closed = True
        loop = asyncio.get_running_loop()
        with self._kept_lock:
            kept, self._kept = self._kept, []
        for value, close in kept:
            try:
                await loop.run_in_executor(self._threads, close, value)
            except Exception:
                log.exception("closing what a job thread kept failed")
        self._threads.shutdown(wait=False)  # idle now: each thread ends as it sees the shutdown


def backoff(base_seconds: float, attempts: int) -> float:
    """Seconds before the attempt after `attempts` failed ones: base, 2 x base, 4 x base, ... (webhooks, mail)."""
    return float(base_seconds * 2 ** (attempts - 1))


def run_later(delay: float, name: str, *args: Any) -> bool:
    """From a job run by the in-process runner: run `name(*args)` again after `delay` seconds.

    False when the calling job was not started by an in-process runner (rq jobs reschedule through rq).
    """
    runner = _runner.get()
    if runner is None:
        return False
    runner.run_later(delay, name, *args)
    return True


class RqQueue:
    """Enqueues on rq; a Redis outage never fails the write that asked (the sweep catches up)."""

    def __init__(self, redis_url: str, queue_name: str, delay_seconds: float = 1.0) -> None:
        from redis import Redis
        from rq import Queue

        self.redis_url = redis_url
        self.redis = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.queue = Queue(queue_name, connection=self.redis)
        self.delay = delay_seconds
        self._failing = False
        self._markers: tuple[asyncio.AbstractEventLoop, AsyncRedis] | None = None

    async def submit(self, requests: Sequence[JobRequest]) -> None:
        """A coalesced request first sets its marker from the event loop, one round trip on an asyncio client:
        under a stream of votes nearly every refresh asked for is pending already, and that ends it. Before,
        each vote handed the check to a thread, whose synchronous client and handoff were a tenth of a server's
        CPU at 200 votes/s on one board. What remains goes to rq, synchronous network I/O, in a thread
        (DECISIONS.md 14)."""
        from redis.exceptions import RedisError

        try:
            due = [request for request in requests if not request.coalesce or await self._mark(request)]
        except RedisError as exc:
            self._outage(exc)
            return
        if due:
            await asyncio.to_thread(self.submit_sync, due, True)

    async def _mark(self, request: JobRequest) -> bool:
        """Set the request's pending marker; False when one is set already (its job is pending)."""
        return bool(await self._marker_client().set(self._marker(request), b"1", nx=True, ex=PENDING_TTL_SECONDS))

    def _marker_client(self) -> AsyncRedis:
        loop = asyncio.get_running_loop()
        if self._markers is None or self._markers[0] is not loop:  # a client belongs to the loop it runs on
            from redis.asyncio import Redis as AsyncRedisClient

            self._markers = (
                loop,
                AsyncRedisClient.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2),
            )
        return self._markers[1]

    def _marker(self, request: JobRequest) -> str:
        # Keyed by queue too: deployments (and test runs) sharing one Redis never block each other.
        return f"{request.key}@{self.queue.name}"

    def submit_sync(self, requests: Sequence[JobRequest], marked: bool = False) -> None:
        """`marked`: the coalesced requests' markers are set already (by `submit`)."""
        from redis.exceptions import RedisError

        try:
            for request in requests:
                self._enqueue(request, marked)
        except RedisError as exc:
            self._outage(exc)
            return
        if self._failing:
            log.info("Redis is reachable again; enqueuing jobs")
        self._failing = False

    def _outage(self, exc: Exception) -> None:
        if not self._failing:
            log.error("cannot enqueue jobs, Redis is unavailable (%s); the sweep will catch up", exc)
        self._failing = True

    def _enqueue(self, request: JobRequest, marked: bool = False) -> None:
        from rq import Retry

        options: dict[str, Any] = dict(
            job_timeout=JOB_TIMEOUT_SECONDS,
            retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
            description=f"{request.name}{request.args!r}",
        )
        if request.coalesce:
            key = self._marker(request)
            if not marked and not self.redis.set(key, b"1", nx=True, ex=PENDING_TTL_SECONDS):
                return
            self.queue.enqueue_in(
                timedelta(seconds=self.delay), run_job, request.name, list(request.args), key, **options
            )
        elif request.job_id is not None:
            from rq.exceptions import NoSuchJobError
            from rq.job import Job

            job_id = re.sub(r"[^A-Za-z0-9_-]", "_", f"{self.queue.name}-{request.job_id}")  # rq's id alphabet
            try:
                Job.fetch(job_id, connection=self.redis)
                return  # this period's job exists already (queued, running or done)
            except NoSuchJobError:
                pass
            self.queue.enqueue(run_job, request.name, list(request.args), None, job_id=job_id, **options)
        else:
            self.queue.enqueue(run_job, request.name, list(request.args), None, **options)

    def depth(self) -> int:
        return int(self.queue.count) + int(self.queue.scheduled_job_registry.count)

    async def close(self) -> None:
        if self._markers is not None:
            markers, self._markers = self._markers[1], None
            await markers.aclose()
        await asyncio.to_thread(self.redis.close)


def create_queue(settings: Settings, broker: Broker | None = None) -> JobQueue:
    if settings.redis_url:
        return RqQueue(settings.redis_url, settings.queue_name, settings.refresh_delay_seconds)
    return InProcessQueue(settings, broker)
