"""Subscriptions across servers: two real `ideaengine serve` processes sharing PostgreSQL and Redis, an rq
worker, and a websocket client on one server hearing what a moderator does through the other."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from schema.relay import parse_id
from tests.api.ops import change_status, create_board, idea_id
from tests.conftest import eventually
from tests.realtime.conftest import GraphQLWS, Server, create_workspace, http_api, server_env
from tests.realtime.test_subscriptions_embedded import BOARD, STATUS, next_event
from tests.workers.test_rq import Workers

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


def pk(global_id: str) -> int:
    parsed = parse_id(global_id)
    assert parsed is not None
    return parsed[1]


async def test_a_status_change_through_one_server_reaches_a_subscriber_on_another(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    import redis

    queue = f"ie-{uuid.uuid4().hex}"
    env = server_env(pg_url, redis_url, queue)
    acme = create_workspace(env, "acme")
    one, two = Server(env, tmp_path, "one"), Server(env, tmp_path, "two")
    workers = Workers(env, tmp_path)
    ws: GraphQLWS | None = None
    client = redis.Redis.from_url(redis_url)
    try:
        await asyncio.gather(one.ready(), two.ready())
        workers.start()
        async with http_api(two) as api:
            board = await create_board(api, acme.api_key)
            target = await idea_id(api, acme.token("alice"), board, "Oat milk in every store")
            ws = await GraphQLWS.open(one.ws_url, acme.token("carol"))
            await ws.subscribe("status", STATUS, {"id": target})
            await ws.subscribe("board", BOARD, {"id": board})
            channels = [f"ideaengine:events:{queue}:idea:{pk(target)}", f"ideaengine:events:{queue}:board:{pk(board)}"]

            async def listening() -> bool:
                counts: list[tuple[Any, int]] = await asyncio.to_thread(client.pubsub_numsub, *channels)
                return all(n >= 1 for _, n in counts)

            await eventually(listening, 15, "server one to subscribe on Redis", one.output)

            changed = await change_status(api, acme.token("mo", role="moderator"), target, "PLANNED", "Next sprint")
            assert changed["userErrors"] == [
                {
                    "code": "INVALID_TRANSITION",
                    "field": ["input", "status"],
                    "message": "An idea cannot go from submitted to planned.",
                }
            ]
            changed = await change_status(api, acme.token("mo", role="moderator"), target, "UNDER_REVIEW", "Looking")
            assert changed["userErrors"] == []
            message = await ws.expect("status")
            assert message["payload"]["data"]["ideaStatusChanged"] == {
                "from": "SUBMITTED",
                "to": "UNDER_REVIEW",
                "note": "Looking",
                "actor": {"name": "Mo"},
                "idea": {"id": target, "status": "UNDER_REVIEW"},
            }
            event = await next_event(ws, "board", "IdeaStatusChangedEvent")
            assert event["change"]["to"] == "UNDER_REVIEW"
            # The score refresh runs in the rq worker, a third process: its event comes through Redis too.
            message = await ws.expect("board", 30)
            assert message["payload"]["data"]["boardActivity"]["__typename"] == "ScoresUpdatedEvent"
            assert message["payload"]["data"]["boardActivity"]["board"] == {"id": board}
            assert ws.pending["status"] == []  # the refused change raised nothing
    finally:
        if ws is not None:
            await ws.close()
        client.close()
        workers.stop_all()
        one.stop()
        two.stop()
