"""Fan-out never waits on a subscriber: one that falls behind is dropped, the others hear everything."""

from __future__ import annotations

import asyncio

import pytest

from ideaengine.platform.events import QUEUE_SIZE, Event, FellBehind, InProcessBroker


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
