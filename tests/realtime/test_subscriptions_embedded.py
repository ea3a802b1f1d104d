"""Subscriptions on the embedded default: one real `ideaengine serve` on SQLite, the in-process broker,
in-process jobs publishing score refreshes through their server, and a real websocket client."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from tests.api.ops import change_status, create_board, idea_id
from tests.realtime.conftest import Embedded, GraphQLWS, http_api

pytestmark = [pytest.mark.slow]

STATUS = """subscription($id: ID!) { ideaStatusChanged(ideaId: $id) {
  from to note actor { name } idea { id status } } }"""
BOARD = """subscription($id: ID!) { boardActivity(boardId: $id) { __typename at board { id }
  ... on IdeaSubmittedEvent { idea { id title status } }
  ... on IdeaStatusChangedEvent { change { from to idea { id status } } }
  ... on IdeasMergedEvent { source { id status } target { id title } } } }"""
MERGE = """mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) { target { id } userErrors { code } } }"""
SETTLE = 0.5
"Seconds for a just-sent subscribe to be listening (the protocol has no acknowledgement for it)."


async def next_event(ws: GraphQLWS, op_id: str, typename: str, seen: list[str] | None = None) -> dict[str, Any]:
    """The next boardActivity event of `typename`, skipping score refreshes (recorded in `seen`)."""
    while True:
        message = await ws.expect(op_id)
        assert message["type"] == "next", message
        event: dict[str, Any] = message["payload"]["data"]["boardActivity"]
        if event["__typename"] == typename:
            return event
        assert event["__typename"] == "ScoresUpdatedEvent", event
        if seen is not None:
            seen.append(event["__typename"])


async def refused(ws: GraphQLWS, op_id: str) -> dict[str, Any]:
    """A refused subscription ends at once with the protocol's `error` message (clients call their `error`
    callback), and nothing follows it for that operation: a ping answered proves no `complete` was queued."""
    message = await ws.expect(op_id)
    assert message["type"] == "error", message
    await ws.send({"type": "ping"})
    assert await ws.receive() == {"type": "pong"}
    assert ws.pending.get(op_id, []) == []
    [error] = message["payload"]
    return error  # type: ignore[no-any-return]


async def test_a_subscriber_hears_new_ideas_status_changes_merges_and_score_refreshes(embedded: Embedded) -> None:
    acme = embedded.acme
    async with http_api(embedded.server) as api:
        board = await create_board(api, acme.api_key, slug="lifecycle")
        target = await idea_id(api, acme.token("alice"), board, "Oat milk in every store")
        ws = await GraphQLWS.open(embedded.server.ws_url, acme.token("carol"))
        try:
            await ws.subscribe("status", STATUS, {"id": target})
            await ws.subscribe("board", BOARD, {"id": board})
            await asyncio.sleep(SETTLE)
            duplicate = await idea_id(api, acme.token("bob"), board, "Oat milk everywhere")
            submitted = await next_event(ws, "board", "IdeaSubmittedEvent")
            assert submitted["idea"] == {"id": duplicate, "title": "Oat milk everywhere", "status": "SUBMITTED"}
            assert submitted["board"] == {"id": board}
            # The refresh job runs in a thread of the server and publishes through the server's broker.
            assert (await ws.expect("board"))["payload"]["data"]["boardActivity"]["__typename"] == "ScoresUpdatedEvent"

            changed = await change_status(api, acme.token("mo", role="moderator"), target, "UNDER_REVIEW", "On it")
            assert changed["userErrors"] == []
            status = await ws.expect("status")
            assert status == {
                "id": "status",
                "type": "next",
                "payload": {
                    "data": {
                        "ideaStatusChanged": {
                            "from": "SUBMITTED",
                            "to": "UNDER_REVIEW",
                            "note": "On it",
                            "actor": {"name": "Mo"},
                            "idea": {"id": target, "status": "UNDER_REVIEW"},
                        }
                    }
                },
            }
            event = await next_event(ws, "board", "IdeaStatusChangedEvent")
            assert event["change"] == {
                "from": "SUBMITTED",
                "to": "UNDER_REVIEW",
                "idea": {"id": target, "status": "UNDER_REVIEW"},
            }

            merged = await api(MERGE, {"i": {"sourceId": duplicate, "targetId": target}}, auth=acme.api_key)
            assert merged["data"]["mergeIdeas"]["userErrors"] == []
            event = await next_event(ws, "board", "IdeasMergedEvent")
            assert event["source"] == {"id": duplicate, "status": "MERGED"}
            assert event["target"] == {"id": target, "title": "Oat milk in every store"}

            await ws.completed("status", "board")
            await change_status(api, acme.token("mo", role="moderator"), target, "PLANNED")
            await ws.expect_quiet(1.0)  # completed: nothing more arrives
        finally:
            await ws.close()


@pytest.mark.parametrize("who", ["anonymous", "other_workspace_member"])
async def test_a_private_board_is_refused_to_who_cannot_read_it_and_the_socket_stays_usable(
    embedded: Embedded, who: str
) -> None:
    acme, globex = embedded.acme, embedded.globex
    async with http_api(embedded.server) as api:
        private = await create_board(api, acme.api_key, slug=f"inside-{who.replace('_', '-')}", visibility="PRIVATE")
        secret = await idea_id(api, acme.token("alice"), private, "Next year's flavours")
        public = await create_board(api, acme.api_key, slug=f"open-{who.replace('_', '-')}")
        outsider = await GraphQLWS.open(embedded.server.ws_url, None if who == "anonymous" else globex.token("eve"))
        insider = await GraphQLWS.open(embedded.server.ws_url, acme.token("bob"))
        try:
            await outsider.subscribe("board", BOARD, {"id": private})
            error = await refused(outsider, "board")
            assert error["message"] == "No such board."
            assert error["extensions"] == {"code": "BAD_USER_INPUT", "userErrorCode": "NOT_FOUND", "field": ["boardId"]}
            await outsider.subscribe("idea", STATUS, {"id": secret})
            error = await refused(outsider, "idea")
            assert error["message"] == "No such idea."

            await insider.subscribe("board", BOARD, {"id": private})
            await outsider.subscribe("public", BOARD, {"id": public})  # the same socket goes on working
            await asyncio.sleep(SETTLE)
            await change_status(api, acme.api_key, secret, "UNDER_REVIEW")
            event = await next_event(insider, "board", "IdeaStatusChangedEvent")
            assert event["change"]["idea"] == {"id": secret, "status": "UNDER_REVIEW"}
            await idea_id(api, acme.token("alice"), public, "Open to all")
            event = await next_event(outsider, "public", "IdeaSubmittedEvent")
            assert event["idea"]["title"] == "Open to all"
            assert outsider.pending == {"board": [], "idea": [], "public": []}  # nothing of the private board
        finally:
            await outsider.close()
            await insider.close()


async def test_an_unknown_idea_ends_with_an_error_and_the_socket_closes_cleanly(embedded: Embedded) -> None:
    ws = await GraphQLWS.open(embedded.server.ws_url, embedded.acme.token("carol"))
    await ws.subscribe("1", STATUS, {"id": "SWRlYTo5OTk5OTk"})  # Idea:999999
    error = await refused(ws, "1")
    assert error["message"] == "No such idea."
    assert error["extensions"]["userErrorCode"] == "NOT_FOUND"
    await ws.subscribe("2", STATUS, {"id": "not-an-id"})
    error = await refused(ws, "2")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "userErrorCode": "INVALID", "field": ["ideaId"]}
    await ws.send({"type": "ping"})
    assert await ws.receive() == {"type": "pong"}
    await ws.close()
    assert ws.socket.close_code == 1000


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("this is not json", id="not_json"),
        pytest.param('{"type": "subscribe", "payload": {"query": "subscription { x }"}}', id="subscribe_without_id"),
        pytest.param('{"id": "1", "type": "subscribe"}', id="subscribe_without_payload"),
        pytest.param('{"type": "launch_missiles"}', id="unknown_type"),
        pytest.param('{"payload": {}}', id="no_type"),
        pytest.param('{"id": "1", "type": "subscribe", "payload": {"query": "subscription {"}}', id="syntax_error"),
    ],
)
async def test_a_malformed_protocol_message_closes_the_socket_with_4400(embedded: Embedded, raw: str) -> None:
    ws = await GraphQLWS.open(embedded.server.ws_url, embedded.acme.token("carol"))
    await ws.socket.send(raw)
    assert await ws.close_code() == 4400


async def test_subscribing_before_connection_init_closes_with_4401(embedded: Embedded) -> None:
    ws = await GraphQLWS.open(embedded.server.ws_url, init=False)
    await ws.subscribe("1", STATUS, {"id": "SWRlYTox"})
    assert await ws.close_code() == 4401


@pytest.mark.parametrize("subscription", ["ideaStatusChanged", "boardActivity"])
async def test_a_subscription_ends_with_an_error_when_its_token_expires(embedded: Embedded, subscription: str) -> None:
    acme = embedded.acme
    async with http_api(embedded.server) as api:
        board = await create_board(api, acme.api_key, slug=f"expiry-{subscription.lower()}")
        target = await idea_id(api, acme.token("alice"), board, "Oat milk in every store")
    ws = await GraphQLWS.open(embedded.server.ws_url, acme.token("erin", ttl=3))
    try:
        if subscription == "ideaStatusChanged":
            await ws.subscribe("1", STATUS, {"id": target})
        else:
            await ws.subscribe("1", BOARD, {"id": board})
        message = await ws.expect("1", seconds=15)  # at the token's exp, not when the next event comes
        while message["type"] == "next":  # the board's score refresh for the new idea may come first
            assert message["payload"]["data"]["boardActivity"]["__typename"] == "ScoresUpdatedEvent", message
            message = await ws.expect("1", seconds=15)
        assert message["type"] == "error", message  # the protocol's error path: clients call `error`
        [error] = message["payload"]
        assert error["message"] == "The SSO token has expired: subscribe again with a fresh one."
        assert error["extensions"] == {"code": "UNAUTHENTICATED"}
        # The operation is over: nothing more for it (no `complete` after an `error`), the socket stays usable.
        await ws.send({"type": "ping"})
        assert await ws.receive() == {"type": "pong"}
        assert ws.pending.get("1", []) == []
    finally:
        await ws.close()


async def test_a_hidden_idea_sends_its_subscribers_nothing_until_restored(embedded: Embedded) -> None:
    """Subscribers get only what the same token could read: a hidden idea's status changes reach no member
    (its status stream and its board's activity stay quiet), and reach them again once it is restored."""
    acme = embedded.acme
    hide = """mutation($i: ModerateContentInput!) { moderateContent(input: $i) { userErrors { code } } }"""
    mod = acme.token("mo", role="moderator")
    async with http_api(embedded.server) as api:
        board = await create_board(api, acme.api_key, slug="moderated")
        target = await idea_id(api, acme.token("alice"), board, "Oat milk in every store")
        ws = await GraphQLWS.open(embedded.server.ws_url, acme.token("carol"))
        try:
            await ws.subscribe("status", STATUS, {"id": target})
            await ws.subscribe("board", BOARD, {"id": board})
            await asyncio.sleep(SETTLE)
            hidden = await api(hide, {"i": {"subjectId": target, "action": "HIDE"}}, auth=mod)
            assert hidden["data"]["moderateContent"]["userErrors"] == []
            assert (await change_status(api, mod, target, "UNDER_REVIEW"))["userErrors"] == []
            heard: list[dict[str, Any]] = []
            with contextlib.suppress(TimeoutError):
                while True:
                    heard.append(await ws.receive(1.5))
            assert [m for m in heard if "ScoresUpdatedEvent" not in str(m)] == []

            restored = await api(hide, {"i": {"subjectId": target, "action": "RESTORE"}}, auth=mod)
            assert restored["data"]["moderateContent"]["userErrors"] == []
            assert (await change_status(api, mod, target, "PLANNED"))["userErrors"] == []
            assert (await ws.expect("status"))["payload"]["data"]["ideaStatusChanged"]["to"] == "PLANNED"
            event = await next_event(ws, "board", "IdeaStatusChangedEvent")
            assert event["change"] == {
                "from": "UNDER_REVIEW",
                "to": "PLANNED",
                "idea": {"id": target, "status": "PLANNED"},
            }
        finally:
            await ws.close()
