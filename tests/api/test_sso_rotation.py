"""Rotating a workspace's SSO secret: both secrets verify during the grace period, only the new one after it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from ideaengine import workspaces
from ideaengine.platform.models import Workspace as WorkspaceRow
from ideaengine.platform.models import utcnow
from tests.api.conftest import Api, Workspace
from tests.api.test_permissions import ALLOWED, FORBIDDEN, UNAUTHENTICATED, World

ROTATE = "mutation { rotateSsoSecret { ssoSecret previousSecretValidUntil userErrors { field code } } }"
VIEWER = "{ viewer { role user { name } } }"
INVALID_SIGNATURE = "The SSO token is invalid: Signature verification failed."


@pytest.fixture
def world(api: Api, services: Any, ws: Workspace) -> World:
    return World(api, services, ws)


def signed_with(ws: Workspace, secret: str) -> Workspace:
    """The workspace as a host app that signs with `secret` sees it."""
    return Workspace(ws.slug, ws.api_key, secret)


async def viewer(api: Api, token: str) -> dict[str, Any]:
    body = await api(VIEWER, auth=token)
    return body


async def rotate(api: Api, ws: Workspace) -> dict[str, Any]:
    payload: dict[str, Any] = (await api(ROTATE, auth=ws.api_key))["data"]["rotateSsoSecret"]
    assert payload["userErrors"] == []
    return payload


async def end_grace(services: Any, slug: str) -> None:
    """Let the grace period pass: its end moves to a second ago."""
    async with services.transaction() as session:
        await session.execute(
            update(WorkspaceRow)
            .where(WorkspaceRow.slug == slug)
            .values(previous_sso_secret_until=utcnow() - timedelta(seconds=1))
        )


async def test_both_secrets_verify_during_the_grace_period(api: Api, ws: Workspace) -> None:
    before = utcnow()
    payload = await rotate(api, ws)

    new = payload["ssoSecret"]
    assert new != ws.sso_secret and len(new) >= 32
    until = payload["previousSecretValidUntil"]
    assert (before + timedelta(hours=24)).isoformat() <= until <= (utcnow() + timedelta(hours=24)).isoformat()
    old_token = ws.token("alice", name="Alice")
    new_token = signed_with(ws, new).token("bob", name="Bob")
    assert await viewer(api, old_token) == {"data": {"viewer": {"role": "MEMBER", "user": {"name": "Alice"}}}}
    assert await viewer(api, new_token) == {"data": {"viewer": {"role": "MEMBER", "user": {"name": "Bob"}}}}


async def test_after_the_grace_period_only_the_new_secret_verifies(api: Api, services: Any, ws: Workspace) -> None:
    new = (await rotate(api, ws))["ssoSecret"]
    await end_grace(services, ws.slug)

    assert await viewer(api, ws.token("alice")) == {
        "data": {"viewer": {"role": "ANONYMOUS", "user": None}},
        "extensions": {"authentication": {"errors": [INVALID_SIGNATURE]}},
    }
    assert (await viewer(api, signed_with(ws, new).token("bob")))["data"]["viewer"]["role"] == "MEMBER"


async def test_a_second_rotation_ends_the_first_secret_at_once(api: Api, ws: Workspace) -> None:
    second = (await rotate(api, ws))["ssoSecret"]
    third = (await rotate(api, ws))["ssoSecret"]

    assert (await viewer(api, ws.token("alice")))["extensions"] == {"authentication": {"errors": [INVALID_SIGNATURE]}}
    for secret in (second, third):
        assert (await viewer(api, signed_with(ws, secret).token("bob")))["data"]["viewer"]["role"] == "MEMBER"


async def test_a_grace_period_of_zero_ends_the_old_secret_at_once(api: Api, services: Any, ws: Workspace) -> None:
    async with services.transaction() as session:
        row = (await session.execute(select(WorkspaceRow).where(WorkspaceRow.slug == ws.slug))).scalar_one()
        rotated = await workspaces.rotate_sso_secret(session, services.box, row.id, grace_seconds=0)

    assert (await viewer(api, ws.token("alice")))["extensions"] == {"authentication": {"errors": [INVALID_SIGNATURE]}}
    assert (await viewer(api, signed_with(ws, rotated.sso_secret).token("bob")))["data"]["viewer"]["role"] == "MEMBER"


async def test_a_rotation_that_does_not_commit_changes_nothing(api: Api, services: Any, ws: Workspace) -> None:
    async def stored() -> tuple[Any, ...]:
        async with services.db.read() as session:
            row = (await session.execute(select(WorkspaceRow).where(WorkspaceRow.slug == ws.slug))).scalar_one()
            return (row.sso_secret_encrypted, row.previous_sso_secret_encrypted, row.previous_sso_secret_until)

    before = await stored()
    with pytest.raises(RuntimeError, match="crash after the rotation"):
        async with services.transaction() as session:
            row = (await session.execute(select(WorkspaceRow).where(WorkspaceRow.slug == ws.slug))).scalar_one()
            await workspaces.rotate_sso_secret(session, services.box, row.id, grace_seconds=60)
            raise RuntimeError("crash after the rotation")

    assert await stored() == before
    assert before[1:] == (None, None)
    assert (await viewer(api, ws.token("alice")))["data"]["viewer"]["role"] == "MEMBER"


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_rotates_sso_secret"),
        pytest.param("member", FORBIDDEN, id="member_rotates_sso_secret"),
        pytest.param("moderator", FORBIDDEN, id="moderator_rotates_sso_secret"),
        pytest.param("admin", ALLOWED, id="admin_rotates_sso_secret"),
    ],
)
async def test_rotating_the_sso_secret(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    payload = (await world.api(ROTATE, auth=await world.auth(actor)))["data"]["rotateSsoSecret"]
    ws = world.ws
    if refusal is ALLOWED:
        assert payload["userErrors"] == [] and payload["ssoSecret"] != ws.sso_secret
        assert (await viewer(world.api, signed_with(ws, payload["ssoSecret"]).token("carol")))["data"]["viewer"][
            "role"
        ] == "MEMBER"
    else:
        assert payload == {"ssoSecret": None, "previousSecretValidUntil": None, "userErrors": [refusal]}
        async with world.services.db.read() as session:
            row = (await session.execute(select(WorkspaceRow).where(WorkspaceRow.slug == ws.slug))).scalar_one()
        assert (row.previous_sso_secret_encrypted, row.previous_sso_secret_until) == (None, None)
        assert world.services.box.open(row.sso_secret_encrypted) == ws.sso_secret


async def test_another_workspaces_admin_rotates_only_its_own_secret(world: World) -> None:
    other = await world.other()
    await rotate(world.api, other)
    async with world.services.db.read() as session:
        row = (await session.execute(select(WorkspaceRow).where(WorkspaceRow.slug == world.ws.slug))).scalar_one()
    assert world.services.box.open(row.sso_secret_encrypted) == world.ws.sso_secret
    assert row.previous_sso_secret_encrypted is None
