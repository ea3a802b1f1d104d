"""WebSocket edges a public server meets: an undecodable SSO token in `connection_init`, and a subscriber that
stops reading (it is dropped with FELL_BEHIND; writers and other subscribers never wait on it)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from typing import Any

import jwt
import pytest

from tests.api.ops import create_board, idea_id
from tests.realtime.conftest import PROTOCOL, Embedded, GraphQLWS, http_api

pytestmark = [pytest.mark.slow]


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        pytest.param(
            lambda: jwt.encode(
                {"iss": "\ud800", "sub": "x", "exp": int(time.time()) + 60}, "no-workspace-secret-of-32-bytes!", "HS256"
            ),
            "The token's issuer (iss) names no workspace.",
            id="lone_surrogate_in_iss",
        ),
        pytest.param(lambda: "ey\ud800.\ud800.\ud800", "The token is not a JWT.", id="lone_surrogates_in_the_token"),
    ],
)
async def test_an_undecodable_token_in_connection_init_is_acked_as_anonymous_with_the_reason(
    embedded: Embedded, make_token: Any, reason: str
) -> None:
    """JSON carries lone surrogates (`\\ud800`) where an HTTP header cannot: the connection is acknowledged as
    anonymous, with the reason as HTTP gives it (`authentication.errors`), and serves public boards."""
    async with http_api(embedded.server) as api:
        board = await create_board(api, embedded.acme.api_key, slug=f"surrogate-{len(reason)}")
    ws = await GraphQLWS.open(embedded.server.ws_url, init=False)
    try:
        await ws.send({"type": "connection_init", "payload": {"authorization": f"Bearer {make_token()}"}})
        assert await ws.receive() == {"type": "connection_ack", "payload": {"authentication": {"errors": [reason]}}}
        await ws.subscribe("1", "subscription($id: ID!) { boardActivity(boardId: $id) { __typename } }", {"id": board})
        await ws.send({"type": "ping"})
        assert await ws.receive() == {"type": "pong"}  # open and quiet: the anonymous caller reads a public board
        assert ws.pending == {}
    finally:
        await ws.close()


BODY_ALIASES = 29
"Aliases of the idea's body in each event of the stalled subscriber (30 in all is a document's most)."
BIG = (
    "subscription($id: ID!) { boardActivity(boardId: $id) { __typename ... on IdeaStatusChangedEvent { change { "
    + "idea { "
    + " ".join(f"b{n}: body" for n in range(BODY_ALIASES))
    + " } } } } }"
)
SMALL = """subscription($id: ID!) { boardActivity(boardId: $id) { __typename
  ... on IdeaStatusChangedEvent { change { to } } } }"""
CHANGE = """mutation($i: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $i) { userErrors { code } } }"""


async def stalled_client(url: str, port: int) -> GraphQLWS:
    """A client that reads nothing until told, with a tiny receive buffer: the server's sends to it block after a
    few big events, as they do for a phone that lost its signal."""
    from websockets.asyncio.client import connect

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    # No keep-alive pings of its own, as a phone without signal sends none: the client's pings would go
    # unanswered while it reads nothing, and after 40 s of that (a slow machine) it would close the socket itself.
    conn = await connect(
        url,
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        sock=sock,
        max_queue=1,
        open_timeout=10,
        ping_interval=None,
    )
    client = GraphQLWS(conn)
    await client.send({"type": "connection_init", "payload": {}})
    assert (await client.receive())["type"] == "connection_ack"
    return client


async def test_a_subscriber_that_stops_reading_is_dropped_with_fell_behind_and_the_others_hear_everything(
    embedded: Embedded,
) -> None:
    """Each change sends the stalled subscriber 29 copies of a 10,000-character body: its socket fills, its
    events pile up, and past QUEUE_SIZE of them it is dropped (FELL_BEHIND), while a reading subscriber on the
    same board hears every change and every change is answered."""
    from ideaengine.platform.events import QUEUE_SIZE

    server = embedded.server
    async with http_api(server) as api:
        board = await create_board(api, embedded.acme.api_key, slug="fell-behind")
        body = " ".join(uuid.uuid4().hex for _ in range(300))[:10_000]
        long_idea = await idea_id(api, embedded.acme.token("alice"), board, "An idea told at length", body=body)
        stalled = await stalled_client(server.ws_url, server.port)
        reading = await GraphQLWS.open(server.ws_url)
        heard: list[str] = []

        async def read_all() -> None:
            while True:
                message = await reading.expect("small", 600)  # cancelled at the end: never masks a failure
                assert message["type"] == "next", message
                event = message["payload"]["data"]["boardActivity"]
                if event["__typename"] == "IdeaStatusChangedEvent":
                    heard.append(event["change"]["to"])

        listener = asyncio.create_task(read_all())
        try:
            await stalled.subscribe("big", BIG, {"id": board})
            await reading.subscribe("small", SMALL, {"id": board})
            await asyncio.sleep(0.5)  # both listening (the protocol does not acknowledge a subscribe)
            stalled.socket.transport.pause_reading()
            stalled_at = time.monotonic()
            sent: list[str] = []
            while "dropping a subscriber that fell behind" not in server.output():
                assert len(sent) < 3 * QUEUE_SIZE, "the stalled subscriber was never dropped"
                status = "DECLINED" if len(sent) % 2 == 0 else "UNDER_REVIEW"
                answer = await api(CHANGE, {"i": {"ideaId": long_idea, "status": status}}, auth=embedded.acme.api_key)
                assert answer["data"]["changeIdeaStatus"]["userErrors"] == []
                sent.append(status)
            assert len(sent) > QUEUE_SIZE  # it fell QUEUE_SIZE events behind
            for _ in range(600):  # the reading subscriber hears every change, none lost to its stalled neighbour
                if len(heard) == len(sent):
                    break
                await asyncio.sleep(0.05)
            assert heard == sent
            stalled.socket.transport.resume_reading()
            stalled_for = time.monotonic() - stalled_at
            try:
                while (message := await stalled.expect("big", 60))["type"] == "next":
                    pass  # what the server had sent before it stopped waiting
            except TimeoutError:
                pytest.fail(f"nothing for the stalled subscriber after {stalled_for:.1f} s:\n{server.output()[-4000:]}")
            assert message["type"] == "error", message
            assert message["payload"] == [
                {
                    "message": "This subscription fell behind and was ended: "
                    "fetch what you show again, then subscribe again.",
                    "extensions": {"code": "FELL_BEHIND"},
                }
            ]
            await stalled.send({"type": "ping"})  # the connection itself stays open
            assert await stalled.receive() == {"type": "pong"}
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            try:
                await stalled.close()
            finally:  # a socket left open is found by the collector during a later test, which it then fails
                await reading.close()
