"""Webhook deliveries to a real HTTP receiver on 127.0.0.1: signed bodies, retries with one delivery id,
final answers, and the delivery log. In-process runner here (both databases); rq in test_webhook_rq."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from typing import Any

import pytest

from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import change_status, create_board, idea_id
from tests.conftest import TEST_SECRET_KEY, eventually, in_process

CREATE = """mutation($i: CreateWebhookInput!) { createWebhook(input: $i) {
  webhook { id } secret userErrors { code field message } } }"""
LOG = """{ webhooks { edges { node { id deliveries { totalCount edges { node {
  id event status attempts lastError responseStatus body deliveredAt nextAttemptAt } } } } } } }"""
COMMENT = """mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } userErrors { code } } }"""
MERGE = """mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) { target { id } userErrors { code } } }"""


@pytest.fixture
def settings(database_url: str) -> Any:
    from ideaengine.platform.settings import Settings

    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        redis_url=None,
        refresh_delay_seconds=0.05,
        webhook_allow_private=True,  # the receiver listens on 127.0.0.1
        webhook_retry_base_seconds=0.1,
        webhook_max_attempts=3,
    )


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What the README tells receivers to do."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


async def register(api: Any, ws: Any, url: str, events: list[str]) -> str:
    payload = (await api(CREATE, {"i": {"url": url, "events": events}}, auth=ws.api_key))["data"]["createWebhook"]
    assert payload["userErrors"] == []
    return str(payload["secret"])


async def deliveries(api: Any, ws: Any) -> list[dict[str, Any]]:
    [hook] = (await api(LOG, auth=ws.api_key))["data"]["webhooks"]["edges"]
    return [e["node"] for e in hook["node"]["deliveries"]["edges"]]


def settled(api: Any, ws: Any, n: int = 1) -> Any:
    async def check() -> list[dict[str, Any]] | None:
        log = await deliveries(api, ws)
        return log if len(log) == n and all(d["status"] != "PENDING" for d in log) else None

    return check


async def test_a_status_change_reaches_the_receiver_signed(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(200)
    secret = await register(api, ws, hook.url, ["IDEA_STATUS_CHANGED"])
    board = await create_board(api, ws.api_key)
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")  # not an event it hears
    refused = await change_status(api, ws.token("mo", role="moderator"), target, "LAUNCHED")
    assert [e["code"] for e in refused["userErrors"]] == ["INVALID_TRANSITION"]  # rolled back: nothing sent
    await change_status(api, ws.token("mo", role="moderator"), target, "UNDER_REVIEW", "Soon")

    [log] = await eventually(settled(api, ws), 20, "the delivery")
    [got] = hook.requests
    assert verify(secret, got.body, got.headers["x-ideaengine-signature"])
    assert not verify(secret, got.body + b" ", got.headers["x-ideaengine-signature"])
    assert got.headers["x-ideaengine-event"] == "idea.status_changed"
    assert got.headers["content-type"] == "application/json"
    body = json.loads(got.body)
    assert body == {
        "id": got.headers["x-ideaengine-delivery"],
        "event": "idea.status_changed",
        "createdAt": body["createdAt"],
        "workspace": "acme",
        "data": {
            "idea": {
                "id": target,
                "title": "Oat milk in every store",
                "status": "UNDER_REVIEW",
                "board": {"id": board, "slug": "ideas"},
            },
            "from": "SUBMITTED",
            "to": "UNDER_REVIEW",
            "fromLabel": "Submitted",
            "toLabel": "Under review",
            "note": "Soon",
        },
    }
    assert log["id"] == got.headers["x-ideaengine-delivery"]
    assert (log["status"], log["attempts"], log["responseStatus"], log["lastError"]) == ("DELIVERED", 1, 200, None)
    assert log["body"].encode() == got.body and log["deliveredAt"] is not None and log["nextAttemptAt"] is None


async def test_a_receiver_failing_twice_gets_the_same_delivery_once_more(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(500, 500, 200)
    secret = await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    board = await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")

    [log] = await eventually(settled(api, ws), 20, "the delivery after two failures")
    assert len(hook.requests) == 3
    assert len({r.headers["x-ideaengine-delivery"] for r in hook.requests}) == 1
    assert len({r.body for r in hook.requests}) == 1
    assert all(verify(secret, r.body, r.headers["x-ideaengine-signature"]) for r in hook.requests)
    assert (log["id"], log["status"], log["attempts"]) == (
        hook.requests[0].headers["x-ideaengine-delivery"],
        "DELIVERED",
        3,
    )
    assert (log["responseStatus"], log["lastError"]) == (200, None)
    await in_process(services).drain()
    assert len(hook.requests) == 3  # delivered: never sent again


async def test_a_4xx_answer_is_final(api: Api, ws: Workspace, services: Services, receiver: Any) -> None:
    hook = receiver(404)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    board = await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    [log] = await eventually(settled(api, ws), 20, "the failed delivery")
    assert (log["status"], log["attempts"], log["responseStatus"]) == ("FAILED", 1, 404)
    assert log["lastError"] == "HTTP 404: receiver says no"
    await in_process(services).drain()
    assert len(hook.requests) == 1


@pytest.mark.parametrize("status", [503, 429])
async def test_retries_stop_after_the_last_attempt(
    api: Api, ws: Workspace, services: Services, receiver: Any, status: int
) -> None:
    hook = receiver(status)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    board = await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    [log] = await eventually(settled(api, ws), 20, "the delivery to give up")
    assert (log["status"], log["attempts"], log["responseStatus"]) == ("FAILED", 3, status)
    assert len(hook.requests) == 3


async def test_an_unreachable_receiver_is_retried_then_failed(api: Api, ws: Workspace, services: Services) -> None:
    from tests.workers.test_rq import free_port

    await register(api, ws, f"http://127.0.0.1:{free_port()}/nobody", ["IDEA_SUBMITTED"])
    board = await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    [log] = await eventually(settled(api, ws), 20, "the delivery to give up")
    assert (log["status"], log["attempts"], log["responseStatus"]) == ("FAILED", 3, None)
    assert log["lastError"].startswith("Connection failed:")


async def test_each_event_goes_to_the_webhooks_that_hear_it(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(200)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED", "IDEA_MERGED", "COMMENT_OFFICIAL"])
    board = await create_board(api, ws.api_key)
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    source = await idea_id(api, ws.token("bob"), board, "Oat milk everywhere")
    await api(COMMENT, {"i": {"ideaId": target, "body": "Me too"}}, auth=ws.token("carol"))
    await api(COMMENT, {"i": {"ideaId": target, "body": "We hear you.", "official": True}}, auth=ws.api_key)
    await change_status(api, ws.api_key, target, "UNDER_REVIEW")  # not heard
    await api(MERGE, {"i": {"sourceId": source, "targetId": target}}, auth=ws.api_key)

    log = await eventually(settled(api, ws, 4), 20, "four deliveries")
    assert [d["event"] for d in log] == ["IDEA_MERGED", "COMMENT_OFFICIAL", "IDEA_SUBMITTED", "IDEA_SUBMITTED"]
    bodies = {json.loads(r.body)["event"]: json.loads(r.body)["data"] for r in hook.requests}
    assert bodies["comment.official"]["comment"]["body"] == "We hear you."
    assert bodies["comment.official"]["comment"]["official"] is True
    assert bodies["idea.merged"]["source"]["id"] == source and bodies["idea.merged"]["source"]["status"] == "MERGED"
    assert bodies["idea.merged"]["target"]["id"] == target


async def test_replies_and_accepted_answers_reach_webhooks_that_hear_them(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(200)
    await register(api, ws, hook.url, ["COMMENT_REPLY", "ANSWER_ACCEPTED"])
    board = await create_board(api, ws.api_key)
    idea = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    added = await api(COMMENT, {"i": {"ideaId": idea, "body": "Which stores?"}}, auth=ws.token("carol"))
    top = added["data"]["addComment"]["comment"]["id"]
    await api(COMMENT, {"i": {"ideaId": idea, "body": "All of them", "parentId": top}}, auth=ws.token("alice"))
    accept = "mutation($i: AcceptAnswerInput!) { acceptAnswer(input: $i) { userErrors { code } } }"
    assert (await api(accept, {"i": {"commentId": top, "accepted": True}}, auth=ws.token("alice")))["data"] == {
        "acceptAnswer": {"userErrors": []}
    }

    log = await eventually(settled(api, ws, 2), 20, "two deliveries")
    assert sorted(d["event"] for d in log) == ["ANSWER_ACCEPTED", "COMMENT_REPLY"]
    bodies = {json.loads(r.body)["event"]: json.loads(r.body)["data"] for r in hook.requests}
    reply = bodies["comment.reply"]
    assert (reply["comment"]["body"], reply["parent"]["body"], reply["idea"]["id"]) == (
        "All of them",
        "Which stores?",
        idea,
    )
    answer = bodies["comment.answer_accepted"]
    assert (answer["comment"]["id"], answer["idea"]["id"]) == (top, idea)


async def test_deleting_a_webhook_drops_its_pending_deliveries(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(500, 200)
    hook.answer_when = threading.Event()  # the first attempt is in flight while the webhook goes
    await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    board = await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")

    async def attempted() -> bool:
        return len(hook.requests) == 1

    await eventually(attempted, 20, "the first attempt")
    [node] = (await api(LOG, auth=ws.api_key))["data"]["webhooks"]["edges"]
    deleted = await api(
        "mutation($i: DeleteWebhookInput!) { deleteWebhook(input: $i) { userErrors { code } } }",
        {"i": {"id": node["node"]["id"]}},
        auth=ws.api_key,
    )
    assert deleted["data"]["deleteWebhook"]["userErrors"] == []
    hook.answer_when.set()  # it fails (500): a retry would be due 0.1 s later
    await in_process(services).drain()
    await asyncio.sleep(0.5)  # past the retry's due time
    await in_process(services).drain()
    assert len(hook.requests) == 1


async def test_a_delivery_whose_job_was_lost_is_sent_by_the_sweep(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    from datetime import timedelta

    from ideaengine import sweep
    from ideaengine.platform.models import utcnow

    hook = receiver(200)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    board = await create_board(api, ws.api_key)
    queue, services.work.queue = services.work.queue, None  # the server dies before it enqueues the delivery
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    services.work.queue = queue
    [pending] = await deliveries(api, ws)
    assert (pending["status"], pending["attempts"]) == ("PENDING", 0)
    assert await sweep.sweep(services.db, services.queue) == 2  # scores and index; the delivery is not due yet
    await in_process(services).drain()
    assert hook.requests == []
    later = utcnow() + sweep.DELIVERY_GRACE + timedelta(seconds=1)
    assert await sweep.sweep(services.db, services.queue, now=later) == 1
    [log] = await eventually(settled(api, ws), 20, "the swept delivery")
    assert (log["status"], log["attempts"]) == ("DELIVERED", 1)
    assert [r.headers["x-ideaengine-delivery"] for r in hook.requests] == [pending["id"]]


async def test_a_named_host_is_called_at_its_checked_address_with_its_own_host_header(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    """The pinned connection goes to an address; the receiver still sees the name it was registered with."""
    hook = receiver(200)
    named = hook.url.replace("127.0.0.1", "localhost")
    await register(api, ws, named, ["IDEA_SUBMITTED"])
    board = await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    [log] = await eventually(settled(api, ws), 20, "the delivery")
    assert (log["status"], log["responseStatus"]) == ("DELIVERED", 200)
    [request] = hook.requests
    assert request.headers["host"] == named.split("/")[2]
