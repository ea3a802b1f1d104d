"""Live events: published after commit, delivered to subscribers in this process (or, with Redis, all).

Channels are `idea:{id}` and `board:{id}`; a payload is a small JSON object of ids (subscribers read
the rows themselves, with their own permissions). Events are best effort: a failure to publish is
logged and never fails the write that raised it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine.platform.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

log = logging.getLogger("ideaengine.events")

QUEUE_SIZE = 100
"Events a slow subscriber may fall behind by before it is dropped rather than slowing everyone."


class FellBehind(Exception):
    """A subscriber let more than QUEUE_SIZE events wait: its stream ends so it can subscribe afresh."""


REDIS_PREFIX = "ideaengine:events:"
"Redis channels are `ideaengine:events:{queue name}:{channel}`: deployments sharing a Redis never mix."
RECONNECT_MAX_SECONDS = 5.0
"Longest wait between attempts to get the subscriber connection back after Redis went away."
REDIS_TIMEOUT_SECONDS = 2.0

IDEA_SUBMITTED = "idea_submitted"
STATUS_CHANGED = "status_changed"
IDEA_MERGED = "idea_merged"
SCORES_UPDATED = "scores_updated"
CAMPAIGN_PHASE_CHANGED = "campaign_phase_changed"
"Board event types: the `type` of a payload on a `board:{id}` channel."


@dataclass(frozen=True)
class Event:
    channel: str
    payload: dict[str, Any]


_FELL_BEHIND = Event("", {})
"Put in a subscriber's emptied queue when it overflowed: its stream then ends with FellBehind."


def idea_channel(idea_id: int) -> str:
    return f"idea:{idea_id}"


def board_channel(board_id: int) -> str:
    return f"board:{board_id}"


EVENTS_KEY = "ideaengine.events"
"Where a session keeps the live events queued for after its commit."


class Writing(Protocol):
    """What a write queues its after-commit effects on: an ORM session, or a driver `Write` (`platform.driver`)."""

    @property
    def info(self) -> dict[Any, Any]: ...


def after_commit(session: Writing, channel: str, payload: dict[str, Any]) -> None:
    """Publish once the transaction commits (the unit of work does); never for a write that rolled back."""
    session.info.setdefault(EVENTS_KEY, []).append(Event(channel, payload))


def board_event(session: AsyncSession, board_id: int, kind: str, at: datetime, **ids: int | str) -> None:
    """A board activity event after commit: `kind` is one of the board event types, `ids` what it is about
    (ids, or the names of what changed: a campaign's phases)."""
    after_commit(session, board_channel(board_id), {"type": kind, "boardId": board_id, "at": at.isoformat(), **ids})


def status_changed(session: AsyncSession, board_id: int, idea_id: int, change_id: int, at: datetime) -> None:
    """A status change reaches the idea's subscribers and the board's."""
    after_commit(session, idea_channel(idea_id), {"statusChangeId": change_id})
    board_event(session, board_id, STATUS_CHANGED, at, ideaId=idea_id, statusChangeId=change_id)


class Broker(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...
    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[AsyncIterator[Event]]: ...
    async def close(self) -> None: ...


class InProcessBroker:
    """Fan-out to this process's subscribers. Safe to publish from a job's thread (see `publish`)."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def publish(self, events: Sequence[Event]) -> None:
        """Deliver on the subscribers' loop: directly there, through call_soon_threadsafe from elsewhere."""
        loop = self._loop
        if loop is None:
            return  # nobody ever subscribed
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.deliver(events)
            return
        try:
            loop.call_soon_threadsafe(self.deliver, list(events))
        except RuntimeError:  # the server's loop is closed: nobody left to tell
            log.debug("dropping %d events: the subscribers' loop is closed", len(events))

    def deliver(self, events: Sequence[Event]) -> None:
        """Never waits on a subscriber: one that cannot keep up is dropped (its stream ends with FellBehind)."""
        for event in events:
            for queue in list(self._queues.get(event.channel, ())):
                try:
                    queue.put_nowait(event)
                except asyncio.QueueFull:
                    log.warning("dropping a subscriber that fell behind on %s", event.channel)
                    while not queue.empty():
                        queue.get_nowait()
                    queue.put_nowait(_FELL_BEHIND)

    def channels(self) -> list[str]:
        return list(self._queues)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Event]]:
        self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self._queues[channel].add(queue)

        async def stream() -> AsyncIterator[Event]:
            while True:
                event = await queue.get()
                if event is _FELL_BEHIND:
                    raise FellBehind(channel)
                yield event

        try:
            yield stream()
        finally:
            self._queues[channel].discard(queue)
            if not self._queues[channel]:
                del self._queues[channel]

    async def close(self) -> None:
        self._queues.clear()


class RedisBroker:
    """Redis pub/sub, so an event raised on one server (or worker) reaches subscribers on all.

    One subscriber connection per process, whatever the number of subscriptions: a reader task
    fans messages out to local queues. When Redis goes away the reader reconnects with backoff and
    subscribes again to every channel still listened to; streams stay open meanwhile (events
    published during the outage are lost, as pub/sub never stores them).

    Only the reader opens and closes the subscriber connection; redis-py is told never to reconnect
    it. Its own reconnection would resubscribe and then still raise the error that prompted it, so
    the reader would close a connection the server already counts as subscribed, and what was
    published until the next connection subscribed would reach a connection nobody reads.
    """

    def __init__(self, redis_url: str, namespace: str) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.prefix = f"{REDIS_PREFIX}{namespace}:"
        timeout = REDIS_TIMEOUT_SECONDS
        self._redis = Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._subscriber = Redis.from_url(
            redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0, supported_errors=()),
        )
        self._local = InProcessBroker()
        self._counts: Counter[str] = Counter()
        self._pubsub: PubSub | None = None
        self._broken = False
        "A SUBSCRIBE or UNSUBSCRIBE failed on `_pubsub`: the reader replaces it rather than read it again."
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        "Held to change the subscriber connection or what it is subscribed to."
        self._failing = False

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.publish(self.prefix + event.channel, json.dumps(event.payload))
                await pipe.execute()
        except Exception as exc:  # best effort: the write that raised these events has committed
            if not self._failing:
                log.error("cannot publish live events, Redis is unavailable (%s)", exc)
            self._failing = True
            return
        if self._failing:
            log.info("Redis is reachable again; publishing live events")
        self._failing = False

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Event]]:
        async with self._local.subscribe(channel) as stream:
            async with self._lock:
                self._counts[channel] += 1
                if self._counts[channel] == 1 and self._pubsub is not None:
                    await self._redis_call("subscribe", channel)
                if self._reader is None or self._reader.done():
                    self._reader = asyncio.get_running_loop().create_task(self._read(), name="redis-events")
            try:
                yield stream
            finally:
                async with self._lock:
                    self._counts[channel] -= 1
                    if self._counts[channel] <= 0:
                        del self._counts[channel]
                        if self._pubsub is not None:
                            await self._redis_call("unsubscribe", channel)

    async def _redis_call(self, command: str, channel: str) -> None:
        """SUBSCRIBE or UNSUBSCRIBE on the live connection; if that fails the reader's reconnect catches up."""
        assert self._pubsub is not None
        try:
            await getattr(self._pubsub, command)(self.prefix + channel)
        except Exception as exc:
            log.warning("cannot %s %s on Redis (%s: %s); the subscriber reconnects", command, channel, _kind(exc), exc)
            self._broken = True

    async def _read(self) -> None:
        """Keep one subscriber connection; only a PONG read on it after its SUBSCRIBE ends an outage.

        Redis answers in order, so that PONG means the subscriptions are in place on this connection,
        and anything published since is read from it. Every error is logged, once per outage and kind.
        """
        backoff = 0.1
        outage: set[str] = set()
        "The errors already logged during the current outage (empty while connected and confirmed)."
        while True:
            try:
                pubsub = await self._connect()
                while not self._broken:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "message":
                        self._dispatch(message["channel"], message["data"])
                    elif message["type"] == "pong":  # the answer to _connect's PING
                        if outage:
                            log.info("live events: subscribed on Redis again")
                        backoff, outage = 0.1, set()
                raise ConnectionError("a SUBSCRIBE or UNSUBSCRIBE on the subscriber connection failed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis gone: keep the streams open, come back when it does
                why = f"{_kind(exc)}: {exc}"
                if why not in outage:
                    log.warning("live events: Redis subscriber connection lost (%s); retrying in %.1fs", why, backoff)
                    outage.add(why)
                else:
                    log.debug("live events: Redis subscriber still unavailable (%s); retrying in %.1fs", why, backoff)
                await self._drop_pubsub()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)

    async def _connect(self) -> PubSub:
        async with self._lock:
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.connect()  # type: ignore[no-untyped-call]
                if self._counts:
                    await pubsub.subscribe(*(self.prefix + c for c in self._counts))
                await pubsub.ping()  # type: ignore[no-untyped-call, unused-ignore]
            except BaseException:
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8.2
                raise
            self._pubsub, self._broken = pubsub, False
            return pubsub

    async def _drop_pubsub(self) -> None:
        async with self._lock:
            pubsub, self._pubsub = self._pubsub, None
            if pubsub is not None:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8.2

    def _dispatch(self, channel: bytes | str, data: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        if not name.startswith(self.prefix):
            return
        try:
            payload = json.loads(data)
        except ValueError:
            log.warning("ignoring a malformed event on %s", name)
            return
        if isinstance(payload, dict):
            self._local.deliver([Event(name.removeprefix(self.prefix), payload)])

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        await self._drop_pubsub()
        await self._local.close()
        await self._subscriber.aclose()
        await self._redis.aclose()


def _kind(exc: BaseException) -> str:
    """An error's qualified type, since redis-py's ConnectionError and the builtin one share a name."""
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def create_broker(settings: Settings) -> Broker:
    if settings.redis_url:
        return RedisBroker(settings.redis_url, settings.queue_name)
    return InProcessBroker()


_local_broker: contextvars.ContextVar[Broker | None] = contextvars.ContextVar("local_broker", default=None)
"Set by the in-process job runner, so a job running in a thread publishes through its server's broker."


@contextlib.contextmanager
def local_broker(broker: Broker) -> Iterator[None]:
    """Jobs started inside this block (the context is copied into their task and thread) publish via `broker`."""
    token = _local_broker.set(broker)
    try:
        yield
    finally:
        _local_broker.reset(token)


async def publish_from_job(settings: Settings, events: Sequence[Event]) -> None:
    """How a job publishes: through its server's broker when run in-process, else through Redis when set.

    Without either (a job run by hand, with no server) there is no one to tell and nothing happens.
    """
    local = _local_broker.get()
    if local is not None:
        await local.publish(events)
        return
    if not settings.redis_url:
        return
    broker = RedisBroker(settings.redis_url, settings.queue_name)
    try:
        await broker.publish(events)
    finally:
        await broker.close()
