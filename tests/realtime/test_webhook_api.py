"""Registering webhooks: admins only, http(s) only, no loopback/private/link-local hosts (the default)."""

from __future__ import annotations

from typing import Any

import pytest

from ideaengine import webhooks
from ideaengine.platform import models
from schema import relay
from tests.api.conftest import Api, Workspace

CREATE = """mutation($i: CreateWebhookInput!) { createWebhook(input: $i) {
  webhook { id url events active deliveries { totalCount } } secret userErrors { code field message } } }"""
DELETE = """mutation($i: DeleteWebhookInput!) { deleteWebhook(input: $i) {
  deletedWebhookId userErrors { code field message } } }"""
LIST = "{ webhooks { totalCount edges { node { id url events } } } }"
LIST_FULL = "{ webhooks { edges { node { id url events active } } } }"
UPDATE = """mutation($i: UpdateWebhookInput!) { updateWebhook(input: $i) {
  webhook { id } userErrors { code field message } } }"""
PING = """mutation($i: PingWebhookInput!) { pingWebhook(input: $i) {
  delivery { id } userErrors { code field message } } }"""
ROTATE = """mutation($i: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $i) {
  secret userErrors { code field message } } }"""
PUBLIC_URL = "https://93.184.215.14/hooks/ideas"
"A public address literal: no DNS needed, and nothing is sent at registration."


async def create(api: Any, auth: str | None, url: str, events: list[str] | None = None) -> dict[str, Any]:
    body = await api(CREATE, {"i": {"url": url, "events": events or ["IDEA_STATUS_CHANGED"]}}, auth=auth)
    return body["data"]["createWebhook"]  # type: ignore[no-any-return]


async def count(api: Any, ws: Any) -> int:
    return (await api(LIST, auth=ws.api_key))["data"]["webhooks"]["totalCount"]  # type: ignore[no-any-return]


async def test_an_admin_registers_a_webhook_and_sees_its_secret_once(api: Api, ws: Workspace) -> None:
    payload = await create(api, ws.api_key, PUBLIC_URL, ["IDEA_SUBMITTED", "IDEA_STATUS_CHANGED"])
    assert payload["userErrors"] == []
    assert payload["secret"].startswith("whsec_") and len(payload["secret"]) > 40
    assert payload["webhook"] == {
        "id": payload["webhook"]["id"],
        "url": PUBLIC_URL,
        "events": ["IDEA_STATUS_CHANGED", "IDEA_SUBMITTED"],
        "active": True,
        "deliveries": {"totalCount": 0},
    }
    listed = (await api(LIST, auth=ws.api_key))["data"]["webhooks"]
    assert listed == {"totalCount": 1, "edges": [{"node": {k: payload["webhook"][k] for k in ("id", "url", "events")}}]}
    fields = await api('{ __type(name: "Webhook") { fields { name } } }')
    assert "secret" not in {f["name"] for f in fields["data"]["__type"]["fields"]}


BAD_URLS = [
    pytest.param("ftp://example.com/hooks", "A webhook URL must start with http:// or https://.", id="ftp"),
    pytest.param("javascript:alert(1)", "A webhook URL must start with http:// or https://.", id="javascript"),
    pytest.param("not a url", "A webhook URL must start with http:// or https://.", id="no_scheme"),
    pytest.param("https:///hooks", "A webhook URL needs a host.", id="no_host"),
    pytest.param("http://example.com:99999/", "Not a valid URL.", id="bad_port"),
    pytest.param("http://127.0.0.1:8080/hooks", "127.0.0.1", id="loopback"),
    pytest.param("http://localhost/hooks", "127.0.0.1", id="localhost_resolves_to_loopback"),
    pytest.param("http://[::1]/hooks", "::1", id="ipv6_loopback"),
    pytest.param("http://10.1.2.3/hooks", "10.1.2.3", id="private"),
    pytest.param("http://192.168.0.10/hooks", "192.168.0.10", id="private_192"),
    pytest.param("http://169.254.169.254/latest/meta-data", "169.254.169.254", id="link_local_metadata"),
    pytest.param("http://[::ffff:127.0.0.1]/hooks", "127.0.0.1", id="ipv4_mapped_loopback"),
    pytest.param("http://0.0.0.0/hooks", "0.0.0.0", id="unspecified"),
    pytest.param("http://[64:ff9b::7f00:1]/hooks", "64:ff9b::7f00:1", id="nat64_of_loopback"),
    pytest.param("http://[64:ff9b::a01:203]/hooks", "64:ff9b::a01:203", id="nat64_of_private"),
    pytest.param("http://[2002:7f00:1::]/hooks", "2002:7f00:1::", id="six_to_four_of_loopback"),
    pytest.param("http://example.com:0/hooks", "A webhook URL's port must be between 1 and 65535.", id="port_zero"),
    pytest.param(
        "http://example.com/hooks\r\nX-Injected: 1",
        "A webhook URL must not contain spaces or control characters.",
        id="crlf",
    ),
]
"URLs no webhook may have, and a part of the message that says why."


@pytest.mark.parametrize(("url", "message"), BAD_URLS)
async def test_a_bad_or_private_url_is_invalid_and_nothing_is_written(
    api: Api, ws: Workspace, url: str, message: str
) -> None:
    payload = await create(api, ws.api_key, url)
    assert payload["webhook"] is None and payload["secret"] is None
    [error] = payload["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", ["input", "url"])
    assert message in error["message"]
    assert await count(api, ws) == 0


async def test_no_events_is_invalid(api: Api, ws: Workspace) -> None:
    payload = (await api(CREATE, {"i": {"url": PUBLIC_URL, "events": []}}, auth=ws.api_key))["data"]["createWebhook"]
    assert payload["userErrors"] == [
        {"code": "INVALID", "field": ["input", "events"], "message": "Choose at least one event."}
    ]


@pytest.mark.parametrize(
    ("who", "code"),
    [
        pytest.param("anonymous", "UNAUTHENTICATED", id="anonymous_creates"),
        pytest.param("member", "FORBIDDEN", id="member_creates"),
        pytest.param("moderator", "FORBIDDEN", id="moderator_creates"),
    ],
)
async def test_only_admins_create_webhooks(api: Api, ws: Workspace, who: str, code: str) -> None:
    auth = None if who == "anonymous" else ws.token(who, role=who)
    payload = await create(api, auth, "ftp://also-invalid")  # permissions are checked before input
    assert [e["code"] for e in payload["userErrors"]] == [code]
    assert await count(api, ws) == 0


@pytest.mark.parametrize(
    ("who", "code"),
    [
        pytest.param("anonymous", "UNAUTHENTICATED", id="anonymous_lists"),
        pytest.param("member", "FORBIDDEN", id="member_lists"),
    ],
)
async def test_only_admins_read_webhooks(api: Api, ws: Workspace, who: str, code: str) -> None:
    await create(api, ws.api_key, PUBLIC_URL)
    auth = None if who == "anonymous" else ws.token("alice")
    body = await api(LIST, auth=auth, expect_errors=True)
    assert body["data"] == {"webhooks": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]


async def test_an_admin_deletes_a_webhook_of_their_own_workspace_only(
    api: Api, ws: Workspace, other_ws: Workspace
) -> None:
    webhook_id = (await create(api, ws.api_key, PUBLIC_URL))["webhook"]["id"]
    foreign = (await api(DELETE, {"i": {"id": webhook_id}}, auth=other_ws.api_key))["data"]["deleteWebhook"]
    assert foreign["userErrors"] == [{"code": "NOT_FOUND", "field": ["input", "id"], "message": "No such webhook."}]
    member = (await api(DELETE, {"i": {"id": webhook_id}}, auth=ws.token("alice")))["data"]["deleteWebhook"]
    assert [e["code"] for e in member["userErrors"]] == ["FORBIDDEN"]
    bad = (await api(DELETE, {"i": {"id": "SWRlYTox"}}, auth=ws.api_key))["data"]["deleteWebhook"]
    assert bad["userErrors"] == [{"code": "INVALID", "field": ["input", "id"], "message": "Not a valid Webhook id."}]
    assert await count(api, ws) == 1

    done = (await api(DELETE, {"i": {"id": webhook_id}}, auth=ws.api_key))["data"]["deleteWebhook"]
    assert done == {"deletedWebhookId": webhook_id, "userErrors": []}
    assert await count(api, ws) == 0
    again = (await api(DELETE, {"i": {"id": webhook_id}}, auth=ws.api_key))["data"]["deleteWebhook"]
    assert [e["code"] for e in again["userErrors"]] == ["NOT_FOUND"]


@pytest.mark.parametrize(("url", "message"), BAD_URLS)
async def test_a_changed_url_is_checked_like_a_new_one_and_nothing_changes(
    api: Api, ws: Workspace, url: str, message: str
) -> None:
    webhook = (await create(api, ws.api_key, PUBLIC_URL))["webhook"]
    payload = (await api(UPDATE, {"i": {"id": webhook["id"], "url": url, "active": False}}, auth=ws.api_key))["data"][
        "updateWebhook"
    ]
    assert payload["webhook"] is None
    [error] = payload["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", ["input", "url"])
    assert message in error["message"]
    listed = (await api(LIST_FULL, auth=ws.api_key))["data"]["webhooks"]["edges"]
    assert listed == [
        {"node": {"id": webhook["id"], "url": PUBLIC_URL, "events": ["IDEA_STATUS_CHANGED"], "active": True}}
    ]


async def test_ping_is_not_an_event_to_subscribe_to(api: Api, ws: Workspace) -> None:
    payload = await create(api, ws.api_key, PUBLIC_URL, ["IDEA_SUBMITTED", "PING"])
    assert payload["userErrors"] == [
        {
            "code": "INVALID",
            "field": ["input", "events"],
            "message": "PING is not an event to subscribe to: pingWebhook sends it on request.",
        }
    ]
    assert await count(api, ws) == 0


@pytest.mark.parametrize(
    ("given", "code", "message"),
    [
        pytest.param("SWRlYTox", "INVALID", "Not a valid Webhook id.", id="an_idea_id"),
        pytest.param("V2ViaG9vazo5OTk5", "NOT_FOUND", "No such webhook.", id="unknown"),
    ],
)
@pytest.mark.parametrize(
    ("doc", "name", "extra"),
    [
        pytest.param(UPDATE, "updateWebhook", {"active": False}, id="update"),
        pytest.param(PING, "pingWebhook", {}, id="ping"),
        pytest.param(ROTATE, "rotateWebhookSecret", {}, id="rotate"),
    ],
)
async def test_a_bad_webhook_id_is_refused(
    api: Api, ws: Workspace, doc: str, name: str, extra: dict[str, Any], given: str, code: str, message: str
) -> None:
    await create(api, ws.api_key, PUBLIC_URL)
    payload = (await api(doc, {"i": {"id": given, **extra}}, auth=ws.api_key))["data"][name]
    assert payload["userErrors"] == [{"code": code, "field": ["input", "id"], "message": message}]
    assert await count(api, ws) == 1


def test_webhook_bodies_use_the_apis_global_ids() -> None:
    for pk in (1, 42, 10**12):
        board = models.Board(id=pk + 1, slug="ideas")
        idea = models.Idea(id=pk, title="Oat milk", status=models.IdeaStatus.SUBMITTED)
        comment = models.Comment(id=pk + 2, body="Yes", official=True, created_at=models.utcnow())
        ref = webhooks.idea_ref(idea, board)
        assert (ref["id"], ref["board"]["id"]) == (relay.encode_id("Idea", pk), relay.encode_id("Board", pk + 1))
        assert webhooks.comment_ref(comment)["id"] == relay.encode_id("Comment", pk + 2)


def test_a_delivery_connects_to_the_address_it_checked_and_checks_again_next_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: a name that answers a public address to the check and 127.0.0.1 to the connection. The
    attempt resolves once and aims at what passed; the next attempt resolves and checks afresh."""
    from ideaengine import webhooks
    from ideaengine.errors import DomainError

    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    asked: list[tuple[str, int]] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return next(answers)

    monkeypatch.setattr(webhooks, "resolve", rebinding)
    target = webhooks.pin("https://hooks.example.org/in?x=1", allow_private=False)
    assert target == webhooks.Target(
        url="https://93.184.216.34/in?x=1", host_header="hooks.example.org", sni_hostname="hooks.example.org"
    )
    assert asked == [("hooks.example.org", 443)]
    with pytest.raises(DomainError) as refused:
        webhooks.pin("https://hooks.example.org/in?x=1", allow_private=False)
    assert "127.0.0.1" in refused.value.message
