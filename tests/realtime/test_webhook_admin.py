"""Operating a webhook: pause and resume, edit, ping, redeliver, rotate the secret. Real HTTP receivers on
127.0.0.1, the in-process runner, both databases; who may do it; and what a refusal leaves unchanged."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, idea_id
from tests.conftest import TEST_SECRET_KEY, eventually, in_process
from tests.realtime.test_webhook_delivery import register, verify

UPDATE = """mutation($i: UpdateWebhookInput!) { updateWebhook(input: $i) {
  webhook { id url events active } userErrors { code field message } } }"""
PING = """mutation($i: PingWebhookInput!) { pingWebhook(input: $i) {
  delivery { id event status attempts body } userErrors { code field message } } }"""
REDELIVER = """mutation($i: RedeliverWebhookDeliveryInput!) { redeliverWebhookDelivery(input: $i) {
  delivery { id event status attempts body } userErrors { code field message } } }"""
ROTATE = """mutation($i: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $i) {
  webhook { id url } secret userErrors { code field message } } }"""
DELIVERY = """query($id: ID!) { webhookDelivery(id: $id) {
  id event status attempts responseStatus lastError body deliveredAt } }"""
STATE = """{ webhooks { edges { node { id url events active deliveries { totalCount edges { node {
  id event status attempts responseStatus lastError } } } } } } }"""

RETRY_BASE = 1.0
"Seconds before a failed event's first retry: long enough to pause, or to redeliver, before it comes."


@pytest.fixture
def settings(database_url: str) -> Any:
    from ideaengine.platform.settings import Settings

    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        redis_url=None,
        refresh_delay_seconds=0.05,
        webhook_allow_private=True,  # the receivers listen on 127.0.0.1
        webhook_retry_base_seconds=RETRY_BASE,
        webhook_max_attempts=3,
    )


async def hook_id(api: Api, ws: Workspace) -> str:
    [edge] = (await api(STATE, auth=ws.api_key))["data"]["webhooks"]["edges"]
    return str(edge["node"]["id"])


async def state(api: Api, ws: Workspace) -> list[dict[str, Any]]:
    """What an admin sees of the workspace's webhooks and their delivery logs."""
    return [e["node"] for e in (await api(STATE, auth=ws.api_key))["data"]["webhooks"]["edges"]]


async def call(api: Api, doc: str, name: str, inputs: dict[str, Any], auth: str | None) -> dict[str, Any]:
    return (await api(doc, {"i": inputs}, auth=auth))["data"][name]  # type: ignore[no-any-return]


async def ping(api: Api, ws: Workspace, webhook: str) -> dict[str, Any]:
    payload = await call(api, PING, "pingWebhook", {"id": webhook}, ws.api_key)
    assert payload["userErrors"] == []
    return payload["delivery"]  # type: ignore[no-any-return]


async def settled(api: Api, ws: Workspace, delivery: str, seconds: float = 20) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = (await api(DELIVERY, {"id": delivery}, auth=ws.api_key))["data"]["webhookDelivery"]
        return found if found["status"] != "PENDING" else None

    return await eventually(check, seconds, f"delivery {delivery} to settle")  # type: ignore[no-any-return]


async def requests_of(hook: Any, n: int) -> None:
    async def check() -> bool:
        return len(hook.requests) >= n

    await eventually(check, 20, f"{n} request(s) at the receiver")


async def quiet(services: Services) -> None:
    """Every job queued so far has run, and so has any retry they scheduled (due after RETRY_BASE)."""
    await in_process(services).drain()
    await asyncio.sleep(RETRY_BASE * 1.5)
    await in_process(services).drain()


# --- updateWebhook: pause, resume, edit ------------------------------------------------------------


async def test_a_paused_webhook_records_nothing_and_a_resumed_one_hears_what_follows(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(200)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    webhook = await hook_id(api, ws)
    board = await create_board(api, ws.api_key)

    paused = await call(api, UPDATE, "updateWebhook", {"id": webhook, "active": False}, ws.api_key)
    assert paused == {
        "webhook": {"id": webhook, "url": hook.url, "events": ["IDEA_SUBMITTED"], "active": False},
        "userErrors": [],
    }
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    await quiet(services)
    assert hook.requests == []
    [node] = await state(api, ws)
    assert node["deliveries"]["totalCount"] == 0

    resumed = await call(api, UPDATE, "updateWebhook", {"id": webhook, "active": True}, ws.api_key)
    assert resumed["webhook"]["active"] is True
    await idea_id(api, ws.token("bob"), board, "Soy milk on Sundays")
    await requests_of(hook, 1)
    await quiet(services)
    [got] = hook.requests
    assert json.loads(got.body)["data"]["idea"]["title"] == "Soy milk on Sundays"  # nothing replayed


async def test_pausing_ends_a_pending_retry_failed_without_sending_it(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(500, 200)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    webhook = await hook_id(api, ws)
    board = await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    await requests_of(hook, 1)  # the retry is due RETRY_BASE seconds later

    await call(api, UPDATE, "updateWebhook", {"id": webhook, "active": False}, ws.api_key)
    [delivery] = (await state(api, ws))[0]["deliveries"]["edges"]
    log = await settled(api, ws, delivery["node"]["id"])
    assert (log["status"], log["lastError"], log["responseStatus"]) == ("FAILED", "The webhook is paused.", None)
    await quiet(services)
    assert len(hook.requests) == 1


async def test_an_admin_moves_a_webhook_to_another_url_and_events(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    old, new = receiver(200), receiver(200)
    secret = await register(api, ws, old.url, ["IDEA_SUBMITTED"])
    webhook = await hook_id(api, ws)
    changed = await call(
        api,
        UPDATE,
        "updateWebhook",
        {"id": webhook, "url": f"  {new.url}  ", "events": ["COMMENT_OFFICIAL", "IDEA_MERGED", "IDEA_MERGED"]},
        ws.api_key,
    )
    assert changed == {
        "webhook": {"id": webhook, "url": new.url, "events": ["COMMENT_OFFICIAL", "IDEA_MERGED"], "active": True},
        "userErrors": [],
    }
    board = await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")  # no longer heard
    delivery = await ping(api, ws, webhook)
    assert (await settled(api, ws, delivery["id"]))["status"] == "DELIVERED"
    await quiet(services)
    assert old.requests == []
    [got] = new.requests
    assert got.headers["x-ideaengine-event"] == "webhook.ping"
    assert verify(secret, got.body, got.headers["x-ideaengine-signature"])  # the secret stays


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="fields_omitted"),
        pytest.param({"url": None, "events": None, "active": None}, id="fields_null"),
    ],
)
async def test_omitted_and_null_fields_stay_as_they_are(
    api: Api, ws: Workspace, receiver: Any, extra: dict[str, Any]
) -> None:
    hook = receiver(200)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED", "IDEA_MERGED"])
    webhook = await hook_id(api, ws)
    before = await state(api, ws)
    payload = await call(api, UPDATE, "updateWebhook", {"id": webhook, **extra}, ws.api_key)
    assert payload == {
        "webhook": {"id": webhook, "url": hook.url, "events": ["IDEA_MERGED", "IDEA_SUBMITTED"], "active": True},
        "userErrors": [],
    }
    assert await state(api, ws) == before


@pytest.mark.parametrize(
    ("inputs", "field", "message"),
    [
        pytest.param({"events": []}, "events", "Choose at least one event.", id="no_events"),
        pytest.param(
            {"events": ["IDEA_SUBMITTED", "PING"]},
            "events",
            "PING is not an event to subscribe to: pingWebhook sends it on request.",
            id="ping_as_an_event",
        ),
        pytest.param({"url": "ftp://example.com/hooks"}, "url", "must start with http", id="bad_url"),
        pytest.param({"url": "https:///hooks", "active": False}, "url", "needs a host", id="bad_url_with_a_pause"),
    ],
)
async def test_a_bad_update_is_invalid_and_changes_nothing(
    api: Api, ws: Workspace, receiver: Any, inputs: dict[str, Any], field: str, message: str
) -> None:
    hook = receiver(200)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    webhook = await hook_id(api, ws)
    before = await state(api, ws)
    payload = await call(api, UPDATE, "updateWebhook", {"id": webhook, **inputs}, ws.api_key)
    assert payload["webhook"] is None
    [error] = payload["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", ["input", field])
    assert message in error["message"]
    assert await state(api, ws) == before


# --- pingWebhook -------------------------------------------------------------------------------------


async def test_a_ping_reaches_the_receiver_signed_and_its_outcome_is_readable(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(200)
    secret = await register(api, ws, hook.url, ["IDEA_SUBMITTED", "IDEA_STATUS_CHANGED"])
    webhook = await hook_id(api, ws)

    sent = await ping(api, ws, webhook)
    assert (sent["event"], sent["status"], sent["attempts"]) == ("PING", "PENDING", 0)
    log = await settled(api, ws, sent["id"])
    assert (log["status"], log["attempts"], log["responseStatus"], log["lastError"]) == ("DELIVERED", 1, 200, None)
    assert log["deliveredAt"] is not None
    [got] = hook.requests
    assert verify(secret, got.body, got.headers["x-ideaengine-signature"])
    assert (got.headers["x-ideaengine-event"], got.headers["x-ideaengine-delivery"]) == ("webhook.ping", sent["id"])
    assert got.body == sent["body"].encode() == log["body"].encode()
    body = json.loads(got.body)
    assert body == {
        "id": sent["id"],
        "event": "webhook.ping",
        "createdAt": body["createdAt"],
        "workspace": "acme",
        "data": {"webhook": {"id": webhook, "url": hook.url, "events": ["idea.status_changed", "idea.submitted"]}},
    }
    [node] = await state(api, ws)
    assert [d["node"]["id"] for d in node["deliveries"]["edges"]] == [sent["id"]]  # in the delivery log


async def test_a_failed_ping_is_not_retried(api: Api, ws: Workspace, services: Services, receiver: Any) -> None:
    hook = receiver(503, 200)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    sent = await ping(api, ws, await hook_id(api, ws))
    log = await settled(api, ws, sent["id"])
    assert (log["status"], log["attempts"], log["responseStatus"]) == ("FAILED", 1, 503)
    assert log["lastError"] == "HTTP 503: receiver says no"
    await quiet(services)
    assert len(hook.requests) == 1


async def test_pinging_a_paused_webhook_is_a_conflict(api: Api, ws: Workspace, receiver: Any) -> None:
    hook = receiver(200)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    webhook = await hook_id(api, ws)
    await call(api, UPDATE, "updateWebhook", {"id": webhook, "active": False}, ws.api_key)
    payload = await call(api, PING, "pingWebhook", {"id": webhook}, ws.api_key)
    assert payload == {
        "delivery": None,
        "userErrors": [
            {
                "code": "CONFLICT",
                "field": ["input", "id"],
                "message": "The webhook is paused: resume it (updateWebhook with active: true) to ping it.",
            }
        ],
    }
    assert (await state(api, ws))[0]["deliveries"]["totalCount"] == 0


# --- redeliverWebhookDelivery --------------------------------------------------------------------


async def failed_event(api: Api, ws: Workspace, hook: Any) -> str:
    """An idea.submitted delivery that the receiver refused for good (a 4xx): its id."""
    board = await create_board(api, ws.api_key)
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    await requests_of(hook, 1)
    [delivery] = (await state(api, ws))[0]["deliveries"]["edges"]
    log = await settled(api, ws, delivery["node"]["id"])
    assert (log["status"], log["responseStatus"]) == ("FAILED", 404)
    return str(log["id"])


async def test_a_redelivery_sends_the_same_delivery_once_more(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(404, 200)
    secret = await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    delivery = await failed_event(api, ws, hook)

    again = await call(api, REDELIVER, "redeliverWebhookDelivery", {"id": delivery}, ws.api_key)
    assert again["userErrors"] == []
    assert (again["delivery"]["id"], again["delivery"]["event"]) == (delivery, "IDEA_SUBMITTED")
    assert (again["delivery"]["status"], again["delivery"]["attempts"]) == ("PENDING", 1)
    log = await settled(api, ws, delivery)
    assert (log["status"], log["attempts"], log["responseStatus"], log["lastError"]) == ("DELIVERED", 2, 200, None)
    first, second = hook.requests
    assert first.body == second.body == log["body"].encode()
    assert first.headers["x-ideaengine-delivery"] == second.headers["x-ideaengine-delivery"] == delivery
    assert verify(secret, second.body, second.headers["x-ideaengine-signature"])
    [node] = await state(api, ws)
    assert node["deliveries"]["totalCount"] == 1  # the same row, one more attempt


async def test_a_failed_redelivery_is_not_retried(api: Api, ws: Workspace, services: Services, receiver: Any) -> None:
    hook = receiver(404, 503, 200)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    delivery = await failed_event(api, ws, hook)
    await call(api, REDELIVER, "redeliverWebhookDelivery", {"id": delivery}, ws.api_key)
    log = await settled(api, ws, delivery)
    assert (log["status"], log["attempts"], log["responseStatus"]) == ("FAILED", 2, 503)
    await quiet(services)
    assert len(hook.requests) == 2


async def test_redelivering_a_delivery_still_pending_is_a_conflict(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(200)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    board = await create_board(api, ws.api_key)
    queue, services.work.queue = services.work.queue, None  # its job is lost: it stays PENDING
    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    services.work.queue = queue
    [delivery] = (await state(api, ws))[0]["deliveries"]["edges"]
    payload = await call(api, REDELIVER, "redeliverWebhookDelivery", {"id": delivery["node"]["id"]}, ws.api_key)
    assert payload == {
        "delivery": None,
        "userErrors": [
            {
                "code": "CONFLICT",
                "field": ["input", "id"],
                "message": "This delivery is still being sent (PENDING); redeliver it once it is DELIVERED or FAILED.",
            }
        ],
    }
    await quiet(services)
    assert hook.requests == []
    assert (await state(api, ws))[0]["deliveries"]["edges"] == [delivery]


async def test_redelivering_to_a_paused_webhook_is_a_conflict(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(404, 200)
    await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    delivery = await failed_event(api, ws, hook)
    await call(api, UPDATE, "updateWebhook", {"id": await hook_id(api, ws), "active": False}, ws.api_key)
    before = await state(api, ws)
    payload = await call(api, REDELIVER, "redeliverWebhookDelivery", {"id": delivery}, ws.api_key)
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("CONFLICT", ["input", "id"])]
    assert "paused" in payload["userErrors"][0]["message"]
    await quiet(services)
    assert len(hook.requests) == 1
    assert await state(api, ws) == before


@pytest.mark.parametrize(
    ("given", "code", "message"),
    [
        pytest.param("not-a-uuid", "INVALID", "Not a valid delivery id.", id="malformed"),
        pytest.param("", "INVALID", "Not a valid delivery id.", id="empty"),
        pytest.param(str(uuid.UUID(int=7)), "NOT_FOUND", "No such delivery.", id="unknown"),
    ],
)
async def test_a_bad_delivery_id_is_refused(
    api: Api, ws: Workspace, receiver: Any, given: str, code: str, message: str
) -> None:
    await register(api, ws, receiver(200).url, ["IDEA_SUBMITTED"])
    payload = await call(api, REDELIVER, "redeliverWebhookDelivery", {"id": given}, ws.api_key)
    assert payload == {"delivery": None, "userErrors": [{"code": code, "field": ["input", "id"], "message": message}]}


# --- rotateWebhookSecret ---------------------------------------------------------------------------


async def test_after_a_rotation_everything_is_signed_with_the_new_secret_only(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(404, 200)
    old = await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    webhook = await hook_id(api, ws)
    delivery = await failed_event(api, ws, hook)  # sent and signed before the rotation

    rotated = await call(api, ROTATE, "rotateWebhookSecret", {"id": webhook}, ws.api_key)
    assert rotated["userErrors"] == [] and rotated["webhook"] == {"id": webhook, "url": hook.url}
    new = rotated["secret"]
    assert new.startswith("whsec_") and len(new) > 40 and new != old

    await call(api, REDELIVER, "redeliverWebhookDelivery", {"id": delivery}, ws.api_key)
    assert (await settled(api, ws, delivery))["status"] == "DELIVERED"
    pinged = await ping(api, ws, webhook)
    assert (await settled(api, ws, pinged["id"]))["status"] == "DELIVERED"
    before, *after = hook.requests
    assert verify(old, before.body, before.headers["x-ideaengine-signature"])
    assert len(after) == 2
    for got in after:
        assert verify(new, got.body, got.headers["x-ideaengine-signature"])
        assert not verify(old, got.body, got.headers["x-ideaengine-signature"])


async def test_a_rotation_that_does_not_commit_leaves_the_old_secret(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    from ideaengine import identity, webhook_admin
    from ideaengine.platform import ids

    hook = receiver(200)
    old = await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    webhook = await hook_id(api, ws)
    parsed = ids.parse_global_id(webhook)
    assert parsed is not None

    class Crash(Exception):
        pass

    with pytest.raises(Crash):
        async with services.transaction() as session:
            admin = await identity.actor_for_api_key(session, ws.api_key)
            await webhook_admin.rotate_secret(session, admin, services.box, parsed[1])
            raise Crash  # anything failing before the commit
    sent = await ping(api, ws, webhook)
    await settled(api, ws, sent["id"])
    [got] = hook.requests
    assert verify(old, got.body, got.headers["x-ideaengine-signature"])


# --- Who may do it ---------------------------------------------------------------------------------

OPERATIONS: dict[str, tuple[str, str, Callable[[dict[str, str]], dict[str, Any]]]] = {
    "update": (UPDATE, "updateWebhook", lambda ids: {"id": ids["webhook"], "events": ["IDEA_MERGED"], "active": False}),
    "ping": (PING, "pingWebhook", lambda ids: {"id": ids["webhook"]}),
    "redeliver": (REDELIVER, "redeliverWebhookDelivery", lambda ids: {"id": ids["delivery"]}),
    "rotate": (ROTATE, "rotateWebhookSecret", lambda ids: {"id": ids["webhook"]}),
}
CALLERS = {
    "anonymous": "UNAUTHENTICATED",
    "member": "FORBIDDEN",
    "moderator": "FORBIDDEN",
    "other_workspace_admin": "NOT_FOUND",
}


@pytest.mark.parametrize(
    ("operation", "who"),
    [pytest.param(op, who, id=f"{who}_{op}s") for op in OPERATIONS for who in CALLERS],
)
async def test_only_the_workspaces_admins_operate_its_webhooks(
    api: Api,
    ws: Workspace,
    other_ws: Workspace,
    services: Services,
    receiver: Any,
    operation: str,
    who: str,
) -> None:
    hook = receiver(200)
    secret = await register(api, ws, hook.url, ["IDEA_SUBMITTED"])
    webhook = await hook_id(api, ws)
    delivered = await ping(api, ws, webhook)
    await settled(api, ws, delivered["id"])
    before = await state(api, ws)

    doc, name, inputs = OPERATIONS[operation]
    auth = {
        "anonymous": None,
        "member": ws.token("alice"),
        "moderator": ws.token("mo", role="moderator"),
        "other_workspace_admin": other_ws.api_key,
    }[who]
    payload = await call(api, doc, name, inputs({"webhook": webhook, "delivery": delivered["id"]}), auth)
    assert [e["code"] for e in payload["userErrors"]] == [CALLERS[who]]
    assert all(value is None for key, value in payload.items() if key != "userErrors")

    await in_process(services).drain()  # what a refused call might have queued has run
    assert await state(api, ws) == before
    assert len(hook.requests) == 1
    check = await ping(api, ws, webhook)  # the secret is the one the admin holds
    await settled(api, ws, check["id"])
    assert verify(secret, hook.requests[-1].body, hook.requests[-1].headers["x-ideaengine-signature"])


@pytest.mark.parametrize(
    ("who", "code"),
    [
        pytest.param("anonymous", "UNAUTHENTICATED", id="anonymous_reads_a_delivery"),
        pytest.param("member", "FORBIDDEN", id="member_reads_a_delivery"),
        pytest.param("other_workspace_admin", None, id="other_workspace_admin_reads_a_delivery"),
    ],
)
async def test_only_the_workspaces_admins_read_its_deliveries(
    api: Api, ws: Workspace, other_ws: Workspace, receiver: Any, who: str, code: str | None
) -> None:
    await register(api, ws, receiver(200).url, ["IDEA_SUBMITTED"])
    sent = await ping(api, ws, await hook_id(api, ws))
    auth = {"anonymous": None, "member": ws.token("alice"), "other_workspace_admin": other_ws.api_key}[who]
    body = await api(DELIVERY, {"id": sent["id"]}, auth=auth, expect_errors=True)
    assert body["data"] == {"webhookDelivery": None}
    assert [e["extensions"]["code"] for e in body.get("errors", [])] == ([code] if code else [])


async def test_a_malformed_delivery_id_in_the_query_is_bad_user_input(api: Api, ws: Workspace) -> None:
    body = await api(DELIVERY, {"id": "not-a-uuid"}, auth=ws.api_key, expect_errors=True)
    assert body["data"] == {"webhookDelivery": None}
    [error] = body["errors"]
    assert error["message"] == "Not a valid delivery id."
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "userErrorCode": "INVALID", "field": ["id"]}
