"""Subscriptions are bounded per connection, per IP and per user; a refusal is the protocol's error message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.ops import create_board
from tests.realtime.conftest import Embedded, GraphQLWS, embedded_server, http_api

pytestmark = [pytest.mark.slow]

BOARD = "subscription($id: ID!) { boardActivity(boardId: $id) { __typename } }"
CAPS = {
    "IDEAENGINE_MAX_SUBSCRIPTIONS_PER_CONNECTION": "3",
    "IDEAENGINE_MAX_SUBSCRIPTIONS_PER_IP": "5",
    "IDEAENGINE_MAX_SUBSCRIPTIONS_PER_USER": "2",
}


@pytest.fixture(scope="module")
def capped(templates: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    with embedded_server(templates, tmp_path_factory.mktemp("capped"), **CAPS) as serving:
        yield serving


async def refusal(ws: GraphQLWS, op_id: str) -> str:
    message = await ws.expect(op_id)
    assert message["type"] == "error", message
    [error] = message["payload"]
    assert error["extensions"] == {"code": "TOO_MANY_SUBSCRIPTIONS"}
    return str(error["message"])


async def quiet(ws: GraphQLWS, op_ids: list[str]) -> None:
    """Nothing came back for these operations: they are open (a refusal comes at once)."""
    await ws.send({"type": "ping"})
    assert await ws.receive() == {"type": "pong"}
    assert all(not ws.pending.get(op_id) for op_id in op_ids), ws.pending


async def test_caps_per_connection_and_per_address_and_a_closed_socket_gives_its_slots_back(capped: Embedded) -> None:
    async with http_api(capped.server) as api:
        board = await create_board(api, capped.acme.api_key, slug="caps")
    first = await GraphQLWS.open(capped.server.ws_url)
    second = await GraphQLWS.open(capped.server.ws_url)
    try:
        for n in range(3):
            await first.subscribe(f"a{n}", BOARD, {"id": board})
        await first.subscribe("a3", BOARD, {"id": board})
        assert await refusal(first, "a3") == (
            "Too many subscriptions: this connection holds 3 subscriptions already; close one first."
        )
        await quiet(first, ["a0", "a1", "a2"])
        for n in range(2):
            await second.subscribe(f"b{n}", BOARD, {"id": board})
        await quiet(second, ["b0", "b1"])
        await second.subscribe("b2", BOARD, {"id": board})  # the address holds 5
        assert await refusal(second, "b2") == (
            "Too many subscriptions: this address holds 5 subscriptions already; close one first."
        )
        await first.close()
        await asyncio.sleep(0.5)  # the server notices the close and ends its operations
        await second.subscribe("b3", BOARD, {"id": board})
        await quiet(second, ["b3"])
    finally:
        await second.close()


async def test_a_user_is_capped_across_connections(capped: Embedded) -> None:
    async with http_api(capped.server) as api:
        board = await create_board(api, capped.acme.api_key, slug="caps-user")
    token = capped.acme.token("bob")
    one, two = await GraphQLWS.open(capped.server.ws_url, token), await GraphQLWS.open(capped.server.ws_url, token)
    try:
        await one.subscribe("1", BOARD, {"id": board})
        await two.subscribe("2", BOARD, {"id": board})
        await quiet(one, ["1"])
        await quiet(two, ["2"])
        await two.subscribe("3", BOARD, {"id": board})
        assert await refusal(two, "3") == (
            "Too many subscriptions: this user holds 2 subscriptions already; close one first."
        )
    finally:
        await one.close()
        await two.close()


async def test_a_connection_that_keeps_asking_past_its_caps_is_closed(capped: Embedded) -> None:
    """A client keeps to its caps after a refusal; one that keeps asking is closed (4429), not answered forever."""
    from schema.websocket import REFUSALS_BEFORE_CLOSE

    async with http_api(capped.server) as api:
        board = await create_board(api, capped.acme.api_key, slug="caps-flood")
    ws = await GraphQLWS.open(capped.server.ws_url)
    try:
        for n in range(3):
            await ws.subscribe(f"a{n}", BOARD, {"id": board})
        for n in range(REFUSALS_BEFORE_CLOSE + 5):
            await ws.subscribe(f"r{n}", BOARD, {"id": board})
        for n in range(REFUSALS_BEFORE_CLOSE):
            await refusal(ws, f"r{n}")
        assert await ws.close_code() == 4429
    finally:
        await ws.close()


@pytest.fixture(scope="module")
def full_server(templates: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    """A server that holds 3 subscriptions in all, under generous caps per connection, address and user."""
    with embedded_server(
        templates, tmp_path_factory.mktemp("full"), IDEAENGINE_MAX_SUBSCRIPTIONS_PER_SERVER="3"
    ) as serving:
        yield serving


async def test_a_server_holds_at_most_its_cap_in_all_whoever_asks(full_server: Embedded) -> None:
    """The cap over every connection, address and user of one server: a fourth subscriber is refused (signed in or
    not), and a slot comes back when a subscription ends."""
    async with http_api(full_server.server) as api:
        board = await create_board(api, full_server.acme.api_key, slug="full")
    url = full_server.server.ws_url
    anonymous = await GraphQLWS.open(url)
    bob = await GraphQLWS.open(url, full_server.acme.token("bob"))
    carol = await GraphQLWS.open(url, full_server.acme.token("carol"))
    try:
        await anonymous.subscribe("a0", BOARD, {"id": board})
        await anonymous.subscribe("a1", BOARD, {"id": board})
        await bob.subscribe("b0", BOARD, {"id": board})
        await quiet(anonymous, ["a0", "a1"])
        await quiet(bob, ["b0"])
        for ws, op_id in ((carol, "c0"), (bob, "b1")):
            await ws.subscribe(op_id, BOARD, {"id": board})
            assert await refusal(ws, op_id) == (
                "Too many subscriptions: this server holds as many subscriptions as it can; close one first."
            )
        await anonymous.completed("a1")
        await asyncio.sleep(0.5)  # the cancelled operation ends, and gives its slot back, on a later loop turn
        await carol.subscribe("c1", BOARD, {"id": board})
        await quiet(carol, ["c1"])
    finally:
        for ws in (anonymous, bob, carol):
            await ws.close()
