"""Webhook deliveries as rq jobs: a real worker process, PostgreSQL, Redis, and a receiver on 127.0.0.1
that fails twice before it answers 200."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import make_workspace
from tests.api.ops import create_board, idea_id
from tests.conftest import eventually
from tests.realtime.test_webhook_delivery import deliveries, register, settled, verify
from tests.workers.test_rq import settings_for, system

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


async def test_an_rq_worker_retries_a_failing_receiver_with_one_delivery_id(
    pg_url: str, redis_url: str, tmp_path: Path, receiver: Any
) -> None:
    hook = receiver(500, 500, 200)
    settings = settings_for(pg_url, redis_url, f"ie-{uuid.uuid4().hex}").model_copy(
        update={"webhook_allow_private": True}
    )
    async with system(settings, tmp_path) as (api, services, workers):
        ws = await make_workspace(services, "acme")
        secret = await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
        board = await create_board(api, ws.api_key)
        workers.start(IDEAENGINE_WEBHOOK_ALLOW_PRIVATE="1", IDEAENGINE_WEBHOOK_RETRY_BASE_SECONDS="0.2")
        await idea_id(api, ws.token("alice"), board, "Oat milk in every store")

        [log] = await eventually(settled(api, ws), 45, "the delivery after two failures", workers.output)
        assert len(hook.requests) == 3
        assert {r.headers["x-ideaengine-delivery"] for r in hook.requests} == {log["id"]}
        assert all(verify(secret, r.body, r.headers["x-ideaengine-signature"]) for r in hook.requests)
        assert (log["status"], log["attempts"], log["responseStatus"], log["lastError"]) == ("DELIVERED", 3, 200, None)
        assert await deliveries(api, ws) == [log]


async def test_an_rq_worker_sends_a_ping_once_and_a_redelivery_once(
    pg_url: str, redis_url: str, tmp_path: Path, receiver: Any
) -> None:
    """The one-attempt flag of admin sends survives rq's serialisation: a 503 is final, not retried."""
    from tests.realtime.test_webhook_admin import PING, REDELIVER, hook_id
    from tests.realtime.test_webhook_admin import settled as delivery_settled

    hook = receiver(503, 503, 200)
    settings = settings_for(pg_url, redis_url, f"ie-{uuid.uuid4().hex}").model_copy(
        update={"webhook_allow_private": True}
    )
    async with system(settings, tmp_path) as (api, services, workers):
        ws = await make_workspace(services, "acme")
        secret = await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
        workers.start(IDEAENGINE_WEBHOOK_ALLOW_PRIVATE="1", IDEAENGINE_WEBHOOK_RETRY_BASE_SECONDS="0.2")
        ping = (await api(PING, {"i": {"id": await hook_id(api, ws)}}, auth=ws.api_key))["data"]["pingWebhook"]
        delivery = ping["delivery"]["id"]
        log = await delivery_settled(api, ws, delivery, 45)
        assert (log["status"], log["attempts"], log["responseStatus"]) == ("FAILED", 1, 503)

        await api(REDELIVER, {"i": {"id": delivery}}, auth=ws.api_key)
        await eventually(lambda: _requests_at_least(hook, 2), 45, "the redelivery", workers.output)
        log = await delivery_settled(api, ws, delivery, 45)
        assert (log["status"], log["attempts"], log["responseStatus"]) == ("FAILED", 2, 503)
        await asyncio.sleep(1.0)  # five times the retry base: a retry would have come
        assert len(hook.requests) == 2
        assert {r.headers["x-ideaengine-delivery"] for r in hook.requests} == {delivery}
        assert all(verify(secret, r.body, r.headers["x-ideaengine-signature"]) for r in hook.requests)


async def _requests_at_least(hook: Any, n: int) -> bool:
    return len(hook.requests) >= n
