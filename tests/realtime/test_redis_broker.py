"""The Redis broker on a redis-server of the test's own: namespaces, and a restart under a live stream."""

from __future__ import annotations

import asyncio
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
