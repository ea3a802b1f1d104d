"""The Redis broker on a redis-server of the test's own: namespaces, a restart and killed connections under a stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis

from ideaengine.platform.events import Event, RedisBroker
from tests.conftest import eventually
from tests.workers.test_rq import PrivateRedis

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def listeners(url: str, channel: str) -> Any:
    async def check() -> bool:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        try:
            [(_, count)] = await asyncio.to_thread(client.pubsub_numsub, channel)
        except redis.RedisError:
            return False
        finally:
            client.close()
        return bool(count)

    return check


async def test_a_stream_survives_a_redis_restart_and_publishing_never_raises(tmp_path: Path) -> None:
    private = PrivateRedis(tmp_path)
    private.start()
    server, publisher, stranger = (RedisBroker(private.url, ns) for ns in ("blue", "blue", "green"))
    try:
        async with server.subscribe("board:1") as stream:
            await eventually(listeners(private.url, "ideaengine:events:blue:board:1"), 10, "the subscription")
            await stranger.publish([Event("board:1", {"n": 0})])  # another deployment's namespace
            await publisher.publish([Event("board:1", {"n": 1})])
            assert (await asyncio.wait_for(anext(stream), 5)).payload == {"n": 1}

            private.kill()
            await publisher.publish([Event("board:1", {"lost": True})])  # logged, not raised
            private.start()  # the same port, empty
            await eventually(listeners(private.url, "ideaengine:events:blue:board:1"), 15, "the resubscription")
            await publisher.publish([Event("board:1", {"n": 2})])
            assert (await asyncio.wait_for(anext(stream), 5)).payload == {"n": 2}
    finally:
        for broker in (server, publisher, stranger):
            await broker.close()
        private.kill()


def publish_until_delivered(url: str, channel: str, count: int, seconds: float) -> list[int]:
    """PUBLISH numbered events as fast as possible; returns the numbers Redis handed to at least one subscriber."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    reached: list[int] = []
    deadline = time.monotonic() + seconds
    try:
        n = 0
        while len(reached) < count and time.monotonic() < deadline:
            if client.publish(channel, json.dumps({"n": n})):
                reached.append(n)
            n += 1
    finally:
        client.close()
    return reached


async def received(stream: AsyncIterator[Event], count: int, seconds: float) -> list[int]:
    """The numbers of up to `count` events the stream yields within `seconds`."""
    numbers: list[int] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while len(numbers) < count:
                numbers.append((await anext(stream)).payload["n"])
    return numbers


async def test_every_event_redis_hands_to_the_subscriber_after_its_connection_is_killed_arrives(
    tmp_path: Path,
) -> None:
    """With the server still up, redis-py used to reconnect and resubscribe by itself before raising the old error;
    the broker then closed that subscribed connection, losing what Redis had already handed to it."""
    private = PrivateRedis(tmp_path)
    private.start()
    channel = "ideaengine:events:blue:board:1"
    server = RedisBroker(private.url, "blue")
    admin = redis.Redis.from_url(private.url, socket_connect_timeout=1, socket_timeout=1)
    try:
        async with server.subscribe("board:1") as stream:
            await eventually(listeners(private.url, channel), 10, "the subscription")
            for _ in range(5):
                # The server stays up: the subscriber sees its connection close and can reconnect at once.
                assert await asyncio.to_thread(admin.client_kill_filter, _type="pubsub") == 1
                reached = await asyncio.to_thread(publish_until_delivered, private.url, channel, 50, 10)
                assert reached, "the subscriber never came back"
                assert await received(stream, len(reached), 5) == reached
    finally:
        admin.close()
        await server.close()
        private.kill()
