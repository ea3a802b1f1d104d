"""Identity (ARCHITECTURE.md, Identity): API keys act as admins, SSO tokens provision users, anything else is
anonymous with the reason in the response's `extensions`, and credentials rest hashed or encrypted."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import warnings
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy import func, select, text

from ideaengine import identity
from ideaengine.platform.models import User
from ideaengine.platform.models import Workspace as WorkspaceRow
from tests.api.conftest import Api, Workspace, make_workspace
from tests.api.ops import create_board, idea_id, vote

VIEWER = "{ viewer { role user { name externalId } } }"
ANONYMOUS_VIEWER = {"viewer": {"role": "ANONYMOUS", "user": None}}


def claims(ws: Workspace, **overrides: Any) -> dict[str, Any]:
    """The claims a host app signs for its user `alice`; an override of None drops that claim."""
    base = {
        "iss": ws.slug,
        "sub": "alice",
        "name": "Alice",
        "email": "alice@example.com",
        "exp": int(time.time()) + 3600,
        "role": "member",
    }
    merged = {**base, **overrides}
    return {k: v for k, v in merged.items() if v is not None}


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def unsigned_token(payload: dict[str, Any]) -> str:
    """An `alg: none` token: header and claims with an empty signature."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(payload)}."


def hs512_token(payload: dict[str, Any], secret: str) -> str:
    """HS512 with the right secret (PyJWT warns that a 43-byte key is short for SHA-512; the server must refuse)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(payload, secret, algorithm="HS512")


def rs256_token(payload: dict[str, Any]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return jwt.encode(payload, pem, algorithm="RS256")


async def users_named(services: Any, external_id: str) -> list[User]:
    async with services.db.read() as session:
        return list((await session.execute(select(User).where(User.external_id == external_id))).scalars())


# API keys ------------------------------------------------------------------------------------------------------


async def test_api_key_acts_as_workspace_admin_through_its_service_user(api: Api, ws: Workspace) -> None:
    body = await api(VIEWER, auth=ws.api_key)
    viewer = body["data"]["viewer"]
    assert (viewer["role"], viewer["user"]["name"]) == ("ADMIN", "workspace admin")
    assert re.fullmatch(r"apikey:[0-9a-f]{16}", viewer["user"]["externalId"])
    assert "extensions" not in body


async def test_each_api_key_has_its_own_service_user(api: Api, services: Any, ws: Workspace) -> None:
    async with services.transaction() as session:
        row = (await session.execute(select(WorkspaceRow).where(WorkspaceRow.slug == ws.slug))).scalar_one()
        second = await identity.issue_api_key(session, row, name="zapier")
    query = "{ viewer { role user { id name } } }"
    first_viewer = (await api(query, auth=ws.api_key))["data"]["viewer"]
    second_viewer = (await api(query, auth=second))["data"]["viewer"]
    assert (first_viewer["role"], second_viewer["role"]) == ("ADMIN", "ADMIN")
    assert second_viewer["user"]["name"] == "zapier"
    assert first_viewer["user"]["id"] != second_viewer["user"]["id"]


async def test_unknown_api_key_is_anonymous_with_the_reason_in_extensions(api: Api, ws: Workspace) -> None:
    forged = "iek_" + ws.api_key[4:][::-1]
    body = await api(VIEWER, auth=forged)
    assert body == {
        "data": ANONYMOUS_VIEWER,
        "extensions": {"authentication": {"errors": ["The API key is unknown or revoked."]}},
    }


async def test_api_keys_are_stored_as_their_sha256_only(services: Any, ws: Workspace) -> None:
    async with services.db.read() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).mappings().all()
    assert len(rows) == 1
    assert rows[0]["key_hash"] == hashlib.sha256(ws.api_key.encode()).hexdigest()
    assert [column for column, value in rows[0].items() if ws.api_key in str(value)] == []


async def test_sso_secret_is_stored_encrypted(services: Any, ws: Workspace) -> None:
    async with services.db.read() as session:
        rows = (await session.execute(text("SELECT * FROM workspaces"))).mappings().all()
    assert len(rows) == 1
    assert [column for column, value in rows[0].items() if ws.sso_secret in str(value)] == []
    assert services.box.open(rows[0]["sso_secret_encrypted"]) == ws.sso_secret


# SSO tokens ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("claim", "role"), [("member", "MEMBER"), ("moderator", "MODERATOR")])
async def test_first_valid_sso_token_provisions_its_user(
    api: Api, services: Any, ws: Workspace, claim: str, role: str
) -> None:
    assert await users_named(services, "alice") == []
    token = jwt.encode(claims(ws, name="Alice Liddell", role=claim), ws.sso_secret, algorithm="HS256")
    body = await api(VIEWER, auth=token)
    assert body == {"data": {"viewer": {"role": role, "user": {"name": "Alice Liddell", "externalId": "alice"}}}}
    [user] = await users_named(services, "alice")
    assert (user.name, user.email, user.role.value) == ("Alice Liddell", "alice@example.com", claim)


async def test_sso_token_without_role_claim_is_a_member(api: Api, ws: Workspace) -> None:
    token = jwt.encode(claims(ws, role=None), ws.sso_secret, algorithm="HS256")
    assert (await api("{ viewer { role } }", auth=token))["data"] == {"viewer": {"role": "MEMBER"}}


async def test_later_tokens_update_the_same_user_name_and_role(api: Api, services: Any, ws: Workspace) -> None:
    query = "{ viewer { role user { id name } } }"
    first = (await api(query, auth=ws.token("alice", name="Alice")))["data"]["viewer"]
    renamed = (await api(query, auth=ws.token("alice", name="Alice Liddell", role="moderator")))["data"]["viewer"]
    demoted = (await api(query, auth=ws.token("alice", name="Alice Liddell", role="member")))["data"]["viewer"]
    assert first == {"role": "MEMBER", "user": {"id": first["user"]["id"], "name": "Alice"}}
    assert renamed == {"role": "MODERATOR", "user": {"id": first["user"]["id"], "name": "Alice Liddell"}}
    assert demoted == {"role": "MEMBER", "user": {"id": first["user"]["id"], "name": "Alice Liddell"}}
    assert [(u.name, u.role.value) for u in await users_named(services, "alice")] == [("Alice Liddell", "member")]


BAD_TOKENS = [
    pytest.param(
        lambda ws: unsigned_token(claims(ws)), "SSO tokens must be signed with HS256.", id="alg_none_is_rejected"
    ),
    pytest.param(
        lambda ws: hs512_token(claims(ws), ws.sso_secret),
        "SSO tokens must be signed with HS256.",
        id="hs512_is_rejected",
    ),
    pytest.param(lambda ws: rs256_token(claims(ws)), "SSO tokens must be signed with HS256.", id="rs256_is_rejected"),
    pytest.param(
        lambda ws: jwt.encode(claims(ws), "a-secret-that-is-not-the-workspace-one", algorithm="HS256"),
        "The SSO token is invalid: Signature verification failed.",
        id="wrong_signature_is_rejected",
    ),
    pytest.param(
        lambda ws: jwt.encode(claims(ws, exp=int(time.time()) - 3600), ws.sso_secret, algorithm="HS256"),
        "The SSO token has expired.",
        id="expired_token_is_rejected",
    ),
    pytest.param(
        lambda ws: jwt.encode(claims(ws, exp=None), ws.sso_secret, algorithm="HS256"),
        'The SSO token is invalid: Token is missing the "exp" claim.',
        id="token_without_exp_is_rejected",
    ),
    pytest.param(
        lambda ws: jwt.encode(claims(ws, iss="initech"), ws.sso_secret, algorithm="HS256"),
        "The token's issuer (iss) names no workspace.",
        id="unknown_workspace_in_iss_is_rejected",
    ),
    pytest.param(
        lambda ws: jwt.encode(claims(ws, role="admin"), ws.sso_secret, algorithm="HS256"),
        "The token's role must be 'member' or 'moderator'.",
        id="admin_role_claim_is_rejected",
    ),
    pytest.param(
        lambda ws: jwt.encode(claims(ws, sub="apikey:0123456789abcdef"), ws.sso_secret, algorithm="HS256"),
        "The token's subject (sub) is not a valid user id.",
        id="api_key_service_user_subject_is_rejected",
    ),
    pytest.param(lambda ws: "not-a-jwt", "The token is not a JWT.", id="garbage_token_is_rejected"),
    pytest.param(
        lambda ws: jwt.encode(claims(ws, exp=str(int(time.time()) + 60)), ws.sso_secret, algorithm="HS256"),
        "The SSO token's exp must be a number of seconds since 1970.",
        id="exp_as_a_string_is_rejected",
    ),
    pytest.param(
        lambda ws: jwt.encode(claims(ws, exp=1e30), ws.sso_secret, algorithm="HS256"),
        "The SSO token lives too long: at most 24 hours past iat (or now).",
        id="exp_in_the_far_future_is_rejected",
    ),
    pytest.param(
        lambda ws: jwt.encode(
            claims(ws, iat=int(time.time()) - 3600, exp=int(time.time()) + 23 * 3600 + 60), ws.sso_secret, "HS256"
        ),
        "The SSO token lives too long: at most 24 hours past iat (or now).",
        id="exp_more_than_a_day_past_iat_is_rejected",
    ),
    pytest.param(
        lambda ws: jwt.encode(claims(ws, iss="\ud800"), "a-secret-of-no-workspace-at-all-32b", algorithm="HS256"),
        "The token's issuer (iss) names no workspace.",
        id="lone_surrogate_in_iss_is_rejected",
    ),
    pytest.param(
        lambda ws: jwt.encode(claims(ws, iss="acme\x00"), "a-secret-of-no-workspace-at-all-32b", algorithm="HS256"),
        "The token's issuer (iss) names no workspace.",
        id="nul_in_iss_is_rejected",
    ),
    pytest.param(
        lambda ws: jwt.encode(claims(ws, sub="ali\x00ce"), ws.sso_secret, algorithm="HS256"),
        "The token's subject (sub) is not a valid user id.",
        id="nul_in_sub_is_rejected",
    ),
]


@pytest.mark.parametrize(("make_token", "reason"), BAD_TOKENS)
async def test_rejected_sso_token_is_anonymous_with_the_reason_in_extensions(
    api: Api, services: Any, ws: Workspace, make_token: Any, reason: str
) -> None:
    body = await api(VIEWER, auth=make_token(ws))  # `api` also asserts HTTP 200: never a 500
    assert body == {"data": ANONYMOUS_VIEWER, "extensions": {"authentication": {"errors": [reason]}}}
    async with services.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 1  # the API key's


async def test_long_subjects_sharing_a_prefix_are_never_the_same_user(api: Api, services: Any, ws: Workspace) -> None:
    """A host app's user ids are compared whole: cutting them to the column width would merge two people."""
    query = "{ viewer { role user { id } } }"
    first = await api(query, auth=ws.token("x" * 199 + "a"))
    second = await api(query, auth=ws.token("x" * 199 + "a" + "b"))
    assert first["data"]["viewer"]["role"] == "MEMBER"
    assert second == {
        "data": {"viewer": {"role": "ANONYMOUS", "user": None}},
        "extensions": {"authentication": {"errors": ["The token's subject (sub) is not a valid user id."]}},
    }


async def test_rejected_token_cannot_write(api: Api, ws: Workspace) -> None:
    board = (
        await api('mutation { createBoard(input: {slug: "ideas", name: "Ideas"}) { board { id } } }', auth=ws.api_key)
    )["data"]["createBoard"]["board"]["id"]
    submitted = await api(
        'mutation($b: ID!) { submitIdea(input: {boardId: $b, title: "Dark mode"}) { idea { id } } }',
        {"b": board},
        auth=ws.token("alice"),
    )
    idea = submitted["data"]["submitIdea"]["idea"]["id"]
    vote = "mutation($i: ID!) { vote(input: {ideaId: $i, value: UP}) { idea { id } userErrors { field code } } }"
    body = await api(vote, {"i": idea}, auth=ws.token("bob", ttl=-3600))
    assert body == {
        "data": {"vote": {"idea": None, "userErrors": [{"field": [], "code": "UNAUTHENTICATED"}]}},
        "extensions": {"authentication": {"errors": ["The SSO token has expired."]}},
    }
    tally = await api("query($i: ID!) { idea(id: $i) { votes { up down } } }", {"i": idea}, auth=ws.api_key)
    assert tally["data"] == {"idea": {"votes": {"up": 0, "down": 0}}}


# Headers -------------------------------------------------------------------------------------------------------


async def test_no_authorization_header_is_anonymous_without_complaint(api: Api) -> None:
    assert await api(VIEWER) == {"data": ANONYMOUS_VIEWER}


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Basic x", id="basic_scheme"),
        pytest.param("Bearer", id="bearer_without_token"),
        pytest.param("iek_abcdef", id="key_without_scheme"),
    ],
)
async def test_malformed_authorization_header_is_anonymous_with_an_error(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.post("/graphql", json={"query": VIEWER}, headers={"Authorization": header})
    assert response.status_code == 200
    assert response.json() == {
        "data": ANONYMOUS_VIEWER,
        "extensions": {
            "authentication": {"errors": ["The Authorization header must be 'Bearer <API key or SSO token>'."]}
        },
    }


# Who sees externalId (DECISIONS.md 4) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        pytest.param("self", "alice", id="user_sees_own_external_id"),
        pytest.param("moderator", "alice", id="moderator_sees_external_id"),
        pytest.param("admin", "alice", id="admin_sees_external_id"),
        pytest.param("member", None, id="other_member_does_not_see_external_id"),
        pytest.param("anonymous", None, id="anonymous_does_not_see_external_id"),
        pytest.param("other_workspace_moderator", None, id="other_workspace_moderator_does_not_see_external_id"),
    ],
)
async def test_external_id_visibility(
    api: Api, services: Any, ws: Workspace, viewer: str, expected: str | None
) -> None:
    board = (
        await api('mutation { createBoard(input: {slug: "ideas", name: "Ideas"}) { board { id } } }', auth=ws.api_key)
    )["data"]["createBoard"]["board"]["id"]
    submitted = await api(
        'mutation($b: ID!) { submitIdea(input: {boardId: $b, title: "Dark mode"}) { idea { id } } }',
        {"b": board},
        auth=ws.token("alice"),
    )
    idea = submitted["data"]["submitIdea"]["idea"]["id"]
    if viewer == "other_workspace_moderator":
        auth: str | None = (await make_workspace(services, "globex")).token("oscar", role="moderator")
    else:
        auth = {
            "self": ws.token("alice"),
            "moderator": ws.token("mona", role="moderator"),
            "admin": ws.api_key,
            "member": ws.token("bob"),
            "anonymous": None,
        }[viewer]
    body = await api("query($i: ID!) { idea(id: $i) { author { name externalId } } }", {"i": idea}, auth=auth)
    assert body["data"] == {"idea": {"author": {"name": "Alice", "externalId": expected}}}


async def test_control_characters_in_a_tokens_name_are_dropped_not_stored(api: Api, ws: Workspace) -> None:
    token = jwt.encode(claims(ws, name="Al\x00ice\ud800"), ws.sso_secret, algorithm="HS256")
    body = await api(VIEWER, auth=token)
    assert body["data"]["viewer"]["user"]["name"] == "Alice"


async def test_a_token_valid_for_a_day_is_accepted(api: Api, ws: Workspace) -> None:
    now = int(time.time())
    token = jwt.encode(claims(ws, iat=now, exp=now + 24 * 3600), ws.sso_secret, algorithm="HS256")
    assert (await api(VIEWER, auth=token))["data"]["viewer"]["role"] == "MEMBER"


async def test_a_user_is_readable_only_where_their_name_shows(api: Api, ws: Workspace, other_ws: Workspace) -> None:
    """Anonymous callers could read every user's name by walking `node(id: "User:N")`, voters on private
    boards of other workspaces included. A user is readable by their own workspace, and by anyone who can
    read something they wrote."""
    private = await create_board(api, ws.api_key, slug="inside", visibility="PRIVATE")
    public = await create_board(api, ws.api_key, slug="open")
    secret = await idea_id(api, ws.token("alice"), private, "Next year's flavours")
    await vote(api, ws.token("bob"), secret, "UP")
    await idea_id(api, ws.token("carol"), public, "Oat milk in every store")

    async def user_id(token: str) -> str:
        return str((await api("{ viewer { user { id } } }", auth=token))["data"]["viewer"]["user"]["id"])

    alice, bob, carol = [await user_id(ws.token(name)) for name in ("alice", "bob", "carol")]
    query = "query($id: ID!) { node(id: $id) { ... on User { name } } }"

    async def seen_by(auth: str | None) -> list[str | None]:
        found = []
        for user in (alice, bob, carol):
            node = (await api(query, {"id": user}, auth=auth))["data"]["node"]
            found.append(None if node is None else node["name"])
        return found

    assert await seen_by(None) == [None, None, "Carol"]
    assert await seen_by(other_ws.token("eve")) == [None, None, "Carol"]
    assert await seen_by(ws.token("dave")) == ["Alice", "Bob", "Carol"]


async def test_a_configured_longest_token_lifetime_is_the_one_enforced(services: Any, api: Api, ws: Workspace) -> None:
    """IDEAENGINE_SSO_MAX_TOKEN_LIFETIME_SECONDS=600: a token for 15 minutes, or one issued 5 minutes ago for
    12 minutes in all, is refused with that limit in the reason; 8 minutes is fine (the default 24 hours takes
    all three)."""
    from ideaengine.app import create_app
    from ideaengine.platform.services import Services

    now = int(time.time())
    long, old, short = (
        jwt.encode(claims(ws, exp=now + 900), ws.sso_secret, algorithm="HS256"),
        jwt.encode(claims(ws, iat=now - 300, exp=now + 420), ws.sso_secret, algorithm="HS256"),
        jwt.encode(claims(ws, exp=now + 480), ws.sso_secret, algorithm="HS256"),
    )
    for token in (long, old, short):
        assert (await api(VIEWER, auth=token))["data"]["viewer"]["role"] == "MEMBER"
    settings = services.settings.model_copy(update={"sso_max_token_lifetime_seconds": 600})
    strict_services = Services.create(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, strict_services))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            strict = Api(client)
            reason = "The SSO token lives too long: at most 10 minutes past iat (or now)."
            for token in (long, old):
                body = await strict(VIEWER, auth=token)
                assert body == {"data": ANONYMOUS_VIEWER, "extensions": {"authentication": {"errors": [reason]}}}
            assert (await strict(VIEWER, auth=short))["data"]["viewer"]["role"] == "MEMBER"
    finally:
        await strict_services.close()


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(86_400, "24 hours"), (3600, "1 hour"), (600, "10 minutes"), (5400, "90 minutes"), (90, "90 seconds")],
)
def test_the_longest_lifetime_is_said_in_the_unit_it_was_set_in(seconds: float, said: str) -> None:
    assert identity._duration(seconds) == said
