"""Live events: published after commit, delivered to subscribers in this process (or, with Redis, all)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("ideaengine.events")

QUEUE_SIZE = 100
"Events a slow subscriber may fall behind by before it is dropped rather than slowing everyone."


@dataclass(frozen=True)
class Event:
    channel: str
    payload: dict[str, Any]


def idea_channel(idea_id: int) -> str:
    return f"idea:{idea_id}"


def board_channel(board_id: int) -> str:
    return f"board:{board_id}"


def after_commit(session: AsyncSession, channel: str, payload: dict[str, Any]) -> None:
    """Publish once the transaction commits; never for a write that rolled back."""
    session.info.setdefault("events", []).append(Event(channel, payload))


class Broker(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...
    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[AsyncIterator[Event]]: ...
    async def close(self) -> None: ...


class InProcessBroker:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            for queue in list(self._queues.get(event.channel, ())):
                try:
                    queue.put_nowait(event)
                except asyncio.QueueFull:
                    log.warning("dropping an event for a subscriber that fell behind on %s", event.channel)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self._queues[channel].add(queue)

        async def stream() -> AsyncIterator[Event]:
            while True:
                yield await queue.get()

        try:
            yield stream()
        finally:
            self._queues[channel].discard(queue)
            if not self._queues[channel]:
                del self._queues[channel]

    async def close(self) -> None:
        self._queues.clear()
