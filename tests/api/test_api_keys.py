"""API keys: admins list, create and revoke their workspace's keys; a revoked key stops working at once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ideaengine import apikeys, identity
from ideaengine.identity import Actor, ActorCache, ActorRole
from ideaengine.platform.models import Workspace as WorkspaceRow
from tests.api.conftest import Api, Workspace
from tests.api.test_permissions import ALLOWED, FORBIDDEN, UNAUTHENTICATED, World, mutate

LIST = "{ apiKeys { totalCount edges { node { id name prefix createdAt revokedAt } } } }"
CREATE = """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
  apiKey { id name prefix revokedAt } secret userErrors { field code } } }"""
REVOKE = """mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) {
  apiKey { id name prefix revokedAt } userErrors { field code } } }"""
VIEWER = "{ viewer { role } }"


@pytest.fixture
def world(api: Api, services: Any, ws: Workspace) -> World:
    return World(api, services, ws)


async def keys(api: Api, auth: str) -> list[dict[str, Any]]:
    body = await api(LIST, auth=auth)
    return [edge["node"] for edge in body["data"]["apiKeys"]["edges"]]


async def create(api: Api, auth: str | None, name: str | None = "ci") -> dict[str, Any]:
    body = await api(CREATE, {"input": {"name": name}}, auth=auth)
    payload: dict[str, Any] = body["data"]["createApiKey"]
    return payload


async def role(api: Api, key: str) -> str:
    body = await api(VIEWER, auth=key)
    viewer_role: str = body["data"]["viewer"]["role"]
    return viewer_role


async def test_an_admin_creates_a_key_that_works_and_is_listed_without_its_secret(api: Api, ws: Workspace) -> None:
    created = await create(api, ws.api_key, "  zapier  ")

    secret = created["secret"]
    assert secret.startswith("iek_") and len(secret) > 40
    assert created == {
        "apiKey": {"id": created["apiKey"]["id"], "name": "zapier", "prefix": secret[:12], "revokedAt": None},
        "secret": secret,
        "userErrors": [],
    }
    assert await role(api, secret) == "ADMIN"
    listed = await keys(api, ws.api_key)
    assert [(k["name"], k["prefix"], k["revokedAt"]) for k in listed] == [
        ("workspace admin", ws.api_key[:12], None),
        ("zapier", secret[:12], None),
    ]
    assert listed[1]["id"] == created["apiKey"]["id"]
    fields = await api('{ __type(name: "ApiKey") { fields { name } } }')
    assert {f["name"] for f in fields["data"]["__type"]["fields"]} == {"id", "name", "prefix", "createdAt", "revokedAt"}


async def test_a_revoked_key_stops_working_at_once_even_while_this_server_remembers_it(api: Api, ws: Workspace) -> None:
    second = (await create(api, ws.api_key))["secret"]
    assert await role(api, second) == "ADMIN"  # the server now remembers who this key is

    key_id = (await keys(api, ws.api_key))[1]["id"]
    body = await api(REVOKE, {"input": {"id": key_id}}, auth=ws.api_key)

    revoked = body["data"]["revokeApiKey"]
    assert revoked["userErrors"] == []
    assert revoked["apiKey"]["id"] == key_id and revoked["apiKey"]["revokedAt"] is not None
    refused = await api(VIEWER, auth=second)
    assert refused == {
        "data": {"viewer": {"role": "ANONYMOUS"}},
        "extensions": {"authentication": {"errors": ["The API key is unknown or revoked."]}},
    }
    assert await role(api, ws.api_key) == "ADMIN"


async def test_an_admin_may_revoke_the_key_it_calls_with(api: Api, ws: Workspace) -> None:
    own = (await keys(api, ws.api_key))[0]["id"]
    payload = (await api(REVOKE, {"input": {"id": own}}, auth=ws.api_key))["data"]["revokeApiKey"]
    assert payload["userErrors"] == [] and payload["apiKey"]["revokedAt"] is not None
    assert await role(api, ws.api_key) == "ANONYMOUS"


async def test_revoking_a_revoked_key_changes_nothing(api: Api, ws: Workspace) -> None:
    second = await create(api, ws.api_key)
    key_id = second["apiKey"]["id"]
    first = (await api(REVOKE, {"input": {"id": key_id}}, auth=ws.api_key))["data"]["revokeApiKey"]
    again = (await api(REVOKE, {"input": {"id": key_id}}, auth=ws.api_key))["data"]["revokeApiKey"]
    assert again == first
    assert [k["revokedAt"] for k in await keys(api, ws.api_key)] == [None, first["apiKey"]["revokedAt"]]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("x" * 201, "A key name must be at most 200 characters.", id="name_too_long"),
        pytest.param("ci\x00", "A key name contains control characters.", id="name_with_control_characters"),
    ],
)
async def test_a_bad_key_name_is_refused_and_nothing_is_created(
    api: Api, ws: Workspace, name: str, message: str
) -> None:
    body = await api(CREATE.replace("field code", "field code message"), {"input": {"name": name}}, auth=ws.api_key)
    assert body["data"]["createApiKey"] == {
        "apiKey": None,
        "secret": None,
        "userErrors": [{"field": ["input", "name"], "code": "INVALID", "message": message}],
    }
    assert len(await keys(api, ws.api_key)) == 1


@pytest.mark.parametrize(
    ("name", "listed"),
    [
        pytest.param(None, "", id="name_null"),
        pytest.param("", "", id="name_empty"),
    ],
)
async def test_a_key_without_a_name_is_created_with_an_empty_one(
    api: Api, ws: Workspace, name: str | None, listed: str
) -> None:
    payload = await create(api, ws.api_key, name)
    assert (payload["userErrors"], payload["apiKey"]["name"]) == ([], listed)


async def test_a_key_created_with_the_name_omitted_has_an_empty_one(api: Api, ws: Workspace) -> None:
    body = await api(CREATE, {"input": {}}, auth=ws.api_key)
    assert body["data"]["createApiKey"]["apiKey"]["name"] == ""


@pytest.mark.parametrize(
    ("key_id", "error"),
    [
        pytest.param("not-an-id", {"field": ["input", "id"], "code": "INVALID"}, id="malformed_id"),
        pytest.param("Qm9hcmQ6MQ", {"field": ["input", "id"], "code": "INVALID"}, id="id_of_another_type"),  # Board:1
        pytest.param("QXBpS2V5Ojk5", {"field": ["input", "id"], "code": "NOT_FOUND"}, id="unknown_id"),  # ApiKey:99
    ],
)
async def test_revoking_with_a_bad_id_is_refused(api: Api, ws: Workspace, key_id: str, error: dict[str, Any]) -> None:
    payload = (await api(REVOKE, {"input": {"id": key_id}}, auth=ws.api_key))["data"]["revokeApiKey"]
    assert payload == {"apiKey": None, "userErrors": [error]}
    assert [k["revokedAt"] for k in await keys(api, ws.api_key)] == [None]


# Permissions ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", "UNAUTHENTICATED", id="anonymous_lists_api_keys"),
        pytest.param("member", "FORBIDDEN", id="member_lists_api_keys"),
        pytest.param("moderator", "FORBIDDEN", id="moderator_lists_api_keys"),
        pytest.param("admin", ALLOWED, id="admin_lists_api_keys"),
    ],
)
async def test_listing_api_keys(world: World, actor: str, refusal: str | None) -> None:
    body = await world.api(LIST, auth=await world.auth(actor), expect_errors=True)
    if refusal is ALLOWED:
        assert body["data"]["apiKeys"]["totalCount"] == 1
        assert body["data"]["apiKeys"]["edges"][0]["node"]["prefix"] == world.ws.api_key[:12]
    else:
        assert body["data"] == {"apiKeys": None}
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["apiKeys"], refusal)]


async def test_another_workspaces_admin_lists_only_its_own_keys(world: World) -> None:
    other = await world.other()
    listed = await keys(world.api, other.api_key)
    assert [k["prefix"] for k in listed] == [other.api_key[:12]]


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_creates_api_key"),
        pytest.param("member", FORBIDDEN, id="member_creates_api_key"),
        pytest.param("moderator", FORBIDDEN, id="moderator_creates_api_key"),
        pytest.param("admin", ALLOWED, id="admin_creates_api_key"),
    ],
)
async def test_creating_an_api_key(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    payload = await mutate(world, actor, CREATE, {"name": "ci"})
    listed = await keys(world.api, world.ws.api_key)
    if refusal is ALLOWED:
        assert payload["userErrors"] == [] and payload["secret"].startswith("iek_")
        assert [k["name"] for k in listed] == ["workspace admin", "ci"]
    else:
        assert payload == {"apiKey": None, "secret": None, "userErrors": [refusal]}
        assert [k["name"] for k in listed] == ["workspace admin"]


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_revokes_api_key"),
        pytest.param("member", FORBIDDEN, id="member_revokes_api_key"),
        pytest.param("moderator", FORBIDDEN, id="moderator_revokes_api_key"),
        pytest.param("admin", ALLOWED, id="admin_revokes_api_key"),
        pytest.param(
            "other_workspace_admin",
            {"field": ["input", "id"], "code": "NOT_FOUND"},
            id="other_workspace_admin_revokes_api_key",
        ),
    ],
)
async def test_revoking_an_api_key(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    created = await create(world.api, world.ws.api_key)
    key_id, secret = created["apiKey"]["id"], created["secret"]
    payload = await mutate(world, actor, REVOKE, {"id": key_id})
    if refusal is ALLOWED:
        assert payload["userErrors"] == [] and payload["apiKey"]["revokedAt"] is not None
        assert await role(world.api, secret) == "ANONYMOUS"
    else:
        assert payload == {"apiKey": None, "userErrors": [refusal]}
        assert await role(world.api, secret) == "ADMIN"
        assert [k["revokedAt"] for k in await keys(world.api, world.ws.api_key)] == [None, None]


# The demo's key and the cache ----------------------------------------------------------------------------------


async def test_reissuing_a_named_key_replaces_its_secret_instead_of_adding_a_key(services: Any, ws: Workspace) -> None:
    async with services.transaction() as session:
        workspace = (await session.execute(select(WorkspaceRow).where(WorkspaceRow.slug == ws.slug))).scalar_one()
        first = await apikeys.reissue(session, workspace.id, "demo")
    async with services.transaction() as session:
        second = await apikeys.reissue(session, workspace.id, "demo")
    async with services.transaction() as session:
        listed = await apikeys.all_keys(session, workspace.id)
        old = await identity.actor_for_api_key(session, first.secret)
        new = await identity.actor_for_api_key(session, second.secret)
    assert [(k.name, k.revoked_at) for k in listed] == [("workspace admin", None), ("demo", None)]
    assert second.api_key.id == first.api_key.id and second.api_key.user_id == first.api_key.user_id
    assert old.auth_errors == ("The API key is unknown or revoked.",)
    assert (new.role, new.user_id) == (ActorRole.ADMIN, first.api_key.user_id)


def test_a_forgotten_user_is_not_cached_again_by_a_request_that_read_it_before_the_revoke() -> None:
    cache = ActorCache()
    admin = Actor(workspace_id=1, user_id=7, role=ActorRole.ADMIN)
    cache.put("Bearer iek_a", admin)
    cache.put("Bearer iek_b", Actor(workspace_id=1, user_id=8, role=ActorRole.ADMIN))

    cache.forget_user(7)
    cache.put("Bearer iek_a", admin)  # a request that resolved the key just before the revoke committed

    assert cache.get("Bearer iek_a") is None
    assert cache.get("Bearer iek_b") is not None
