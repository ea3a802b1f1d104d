"""Fan-out never waits on a subscriber: one that falls behind is dropped, the others hear everything."""

from __future__ import annotations

import asyncio
import time

import pytest

from ideaengine.identity import Actor
from ideaengine.platform.events import QUEUE_SIZE, Event, FellBehind, InProcessBroker
from schema import subscriptions


async def test_a_stalled_subscriber_is_dropped_and_a_reading_one_hears_every_event() -> None:
    broker = InProcessBroker()
    heard: list[int] = []
    async with broker.subscribe("board:1") as stalled, broker.subscribe("board:1") as reading:

        async def read_all() -> None:
            async for event in reading:
                heard.append(event.payload["n"])
                if len(heard) == QUEUE_SIZE + 50:
                    return

        reader = asyncio.create_task(read_all())
        for n in range(QUEUE_SIZE + 50):
            await broker.publish([Event("board:1", {"n": n})])  # returns at once: nobody is waited on
            await asyncio.sleep(0)
        await asyncio.wait_for(reader, 5)
        assert heard == list(range(QUEUE_SIZE + 50))
        with pytest.raises(FellBehind):
            await anext(stalled)


@pytest.mark.parametrize("expires_in", [None, 3600.0], ids=["no expiry", "an SSO token's expiry"])
async def test_a_subscription_completed_as_its_event_arrives_ends_without_it(expires_in: float | None) -> None:
    """A client's `complete` cancels the subscription's task. Landing in the same turn of the loop as an
    event (a job thread's refresh published it), the cancel must still end the stream: Python 3.11's
    asyncio.wait_for returned the event instead, and the task went on sending a completed operation's events."""
    broker = InProcessBroker()
    actor = Actor(expires_at=None if expires_in is None else time.time() + expires_in)
    heard: list[Event] = []

    async def subscriber() -> None:
        async with broker.subscribe("board:1") as stream:
            async for event in subscriptions.until_expiry(stream, actor):
                heard.append(event)

    task = asyncio.create_task(subscriber())
    for _ in range(5):
        await asyncio.sleep(0)  # subscribed, and waiting for its first event
    broker.deliver([Event("board:1", {"n": 1})])
    task.cancel()
    await asyncio.wait({task}, timeout=5)
    assert heard == [] and task.cancelled()
