"""A database out of reach is the server's news, not a bug: SERVICE_UNAVAILABLE with a retry hint, never a 500
or "Unexpected error.", and nothing half-written."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ideaengine.platform.db import BUSY, UNREACHABLE
from tests.api.conftest import Api, make_workspace
from tests.api.ops import create_board, drain, idea, idea_id, vote
from tests.conftest import TEST_SECRET_KEY, UNLIMITED

VOTE = "mutation($i: VoteInput!) { vote(input: $i) { idea { votes { up down } } userErrors { code } } }"


@pytest.fixture
async def tight(settings: Any) -> AsyncIterator[Any]:
    """Services whose requests wait a third of a second for a pooled connection."""
    from ideaengine.platform.services import Services

    services = Services.create(settings.model_copy(update={"database_pool_timeout_seconds": 0.3}))
    yield services
    await services.close()


async def client_for(services: Any) -> httpx.AsyncClient:
    from ideaengine.app import create_app

    app = create_app(services.settings, services)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def exhaust(services: Any, held: contextlib.AsyncExitStack) -> None:
    """Take every connection the write pool will give (`held` keeps them), as a burst of slow writers would: on
    PostgreSQL session writes, which take back the connections the driver writes keep between votes
    (`Database._make_room`); on SQLite, whose writers queue on one lock, the pool's connections themselves."""
    while True:
        try:
            if services.settings.is_sqlite:
                await held.enter_async_context(services.db.engine.connect())
            else:
                await held.enter_async_context(services.db.write())
        except PoolTimeout:
            return


@pytest.mark.usefixtures("pool_filling")
async def test_an_exhausted_pool_answers_service_unavailable_and_writes_nothing(tight: Any) -> None:
    ws = await make_workspace(tight, "acme")
    async with await client_for(tight) as client:
        api = Api(client)
        board = await create_board(api, ws.api_key)
        target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
        await drain(tight)
        bob = ws.token("bob")
        await vote(api, bob, target, "UP")  # bob is known now: his next request needs no identity lookup
        held = contextlib.AsyncExitStack()
        try:
            await exhaust(tight, held)
            busy = await client.post(
                "/graphql",
                json={"query": VOTE, "variables": {"i": {"ideaId": target, "value": "DOWN"}}},
                headers={"authorization": f"Bearer {bob}"},
            )
            stranger = await client.post(
                "/graphql",
                json={"query": "{ viewer { role } }"},
                headers={"authorization": f"Bearer {ws.token('carol')}"},  # unknown: needs the pool to sign in
            )
        finally:
            await held.aclose()
        assert busy.status_code == 200
        assert busy.json()["errors"] == [
            {
                "message": BUSY,
                "locations": [{"line": 1, "column": 28}],
                "path": ["vote"],
                "extensions": {"code": "SERVICE_UNAVAILABLE", "retryAfterSeconds": 1},
            }
        ]
        assert (stranger.status_code, stranger.headers["retry-after"]) == (503, "1")
        assert stranger.json() == {"errors": [{"message": BUSY, "extensions": {"code": "SERVICE_UNAVAILABLE"}}]}
        assert (await idea(api, None, target))["votes"] == {"up": 1, "down": 0}  # the refused vote left no trace
        assert (await vote(api, bob, target, "DOWN"))["idea"]["votes"] == {"up": 0, "down": 1}


async def test_an_unreachable_database_answers_service_unavailable() -> None:
    from ideaengine.platform.services import Services
    from ideaengine.platform.settings import Settings

    down = Settings(
        database_url="postgresql+asyncpg://root@127.0.0.1:9/nothing_listens_here",
        secret_key=TEST_SECRET_KEY,
        redis_url=None,
        **UNLIMITED,
    )
    services = Services.create(down)
    try:
        async with await client_for(services) as client:
            anonymous = await client.post(
                "/graphql", json={"query": '{ board(workspace: "acme", slug: "ideas") { name } }'}
            )
            keyed = await client.post(
                "/graphql", json={"query": "{ viewer { role } }"}, headers={"authorization": "Bearer iek_x"}
            )
    finally:
        await services.close()
    assert anonymous.status_code == 200
    [error] = anonymous.json()["errors"]
    assert (error["message"], error["extensions"]["code"]) == (UNREACHABLE, "SERVICE_UNAVAILABLE")
    assert keyed.status_code == 503
    assert keyed.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


async def test_a_database_out_of_connections_answers_service_unavailable() -> None:
    """PostgreSQL refusing a connection for want of slots (SQLSTATE 53300, as under a burst from many
    servers) is the server being busy, not a bug."""
    from ideaengine.platform.services import Services
    from ideaengine.platform.settings import Settings
    from tests.conftest import PG_ADMIN_URL, _pg_execute, unavailable

    try:
        await _pg_execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ie_no_slots') THEN "
            "CREATE ROLE ie_no_slots LOGIN CONNECTION LIMIT 0; END IF; END $$"
        )
    except OSError as exc:
        unavailable("PostgreSQL", exc)
    full = Settings(
        database_url=PG_ADMIN_URL.replace("://root@", "://ie_no_slots@"),
        secret_key=TEST_SECRET_KEY,
        redis_url=None,
        **UNLIMITED,
    )
    services = Services.create(full)
    try:
        async with await client_for(services) as client:
            anonymous = await client.post(
                "/graphql", json={"query": '{ board(workspace: "acme", slug: "ideas") { name } }'}
            )
            keyed = await client.post(
                "/graphql", json={"query": "{ viewer { role } }"}, headers={"authorization": "Bearer iek_x"}
            )
    finally:
        await services.close()
    [error] = anonymous.json()["errors"]
    assert (error["message"], error["extensions"]["code"]) == (BUSY, "SERVICE_UNAVAILABLE")
    assert (keyed.status_code, keyed.json()["errors"][0]["message"]) == (503, BUSY)
