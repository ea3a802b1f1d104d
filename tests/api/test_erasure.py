"""eraseUser (issue 13, item 9): an admin removes a user's personal data for good; their content stays."""

from __future__ import annotations

from typing import Any

import pytest

from ideaengine.platform.ids import parse_global_id
from tests.api.conftest import Api, Workspace
from tests.api.test_permissions import ALLOWED, FORBIDDEN, UNAUTHENTICATED, World, mutate

ERASE = """mutation($input: EraseUserInput!) { eraseUser(input: $input) { userErrors { field code } } }"""
USER = """query($id: ID!) { node(id: $id) { ... on User { name externalId erased } } }"""
VOTE = """mutation($input: VoteInput!) { vote(input: $input) { userErrors { code } } }"""
FOLLOW = """mutation($input: FollowIdeaInput!) { followIdea(input: $input) { userErrors { code } } }"""


@pytest.fixture
def world(api: Api, services: Any, ws: Workspace) -> World:
    return World(api, services, ws)


async def user_id(world: World, actor: str) -> str:
    body = await world.api("{ viewer { user { id } } }", auth=await world.auth(actor))
    return str(body["data"]["viewer"]["user"]["id"])


async def user(world: World, user: str) -> Any:
    return (await world.api(USER, {"id": user}, auth=world.ws.api_key))["data"]["node"]


async def test_an_erased_user_keeps_their_content_and_votes_but_loses_every_personal_datum(world: World) -> None:
    idea = await world.idea("Dark mode")  # by the author, Alice
    other = await world.idea("Offline mode")
    alice = await user_id(world, "author")
    await mutate(world, "author", VOTE, {"ideaId": other, "value": "UP"})
    await mutate(world, "author", FOLLOW, {"ideaId": other, "follow": True})
    await mutate(world, "moderator", FOLLOW, {"ideaId": other, "follow": True})
    await mutate(
        world,
        "moderator",
        "mutation($input: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $input) { userErrors { code } } }",
        {"ideaId": other, "status": "UNDER_REVIEW"},
    )
    assert await world.unread("author") == 1
    assert (await world.state(other))["followerCount"] == 2  # Alice wrote it (authors follow) and the moderator

    payload = await mutate(world, "admin", ERASE, {"userId": alice})

    assert payload == {"userErrors": []}
    assert await user(world, alice) == {"name": None, "externalId": None, "erased": True}
    shown = await world.api(
        "query($id: ID!) { idea(id: $id) { title author { name erased } } }", {"id": idea}, auth=world.ws.api_key
    )
    assert shown["data"]["idea"] == {"title": "Dark mode", "author": {"name": None, "erased": True}}
    state = await world.state(other)
    assert (state["votes"], state["followerCount"]) == ({"up": 1, "down": 0}, 1)  # the vote stays counted
    # Signing in again with the same subject is someone new: none of the old votes, follows or notifications.
    assert await user_id(world, "author") != alice
    assert await world.unread("author") == 0
    viewer = await world.api(
        "query($id: ID!) { idea(id: $id) { viewerVote viewerFollows } }", {"id": other}, auth=await world.auth("author")
    )
    assert viewer["data"]["idea"] == {"viewerVote": None, "viewerFollows": False}


async def test_an_erased_reporters_reports_keep_counting_without_their_note(world: World) -> None:
    from tests.api.test_moderation import queue, report

    idea = await world.idea("Dark mode")
    bob = await user_id(world, "member")
    assert await report(world, await world.auth("member"), idea, "ABUSE", "Call me on +1 555 0100") == []
    assert await mutate(world, "admin", ERASE, {"userId": bob}) == {"userErrors": []}
    [item] = [e["node"] for e in (await queue(world))["edges"]]
    assert (item["reportCount"], item["reports"]) == (1, [{"reason": "ABUSE", "note": None}])


async def test_no_token_may_claim_an_erased_users_subject(world: World) -> None:
    await world.idea()
    alice = await user_id(world, "author")
    await mutate(world, "admin", ERASE, {"userId": alice})
    parsed = parse_global_id(alice)
    assert parsed is not None
    pk = parsed[1]
    body = await world.api("{ viewer { role user { id } } }", auth=world.ws.token(f"erased:{pk}"))
    assert body["data"]["viewer"] == {"role": "ANONYMOUS", "user": None}
    assert body["extensions"]["authentication"] == {"errors": ["The token's subject (sub) is not a valid user id."]}


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_erases"),
        pytest.param("member", FORBIDDEN, id="member_erases"),
        pytest.param("author", FORBIDDEN, id="author_erases_themself"),
        pytest.param("moderator", FORBIDDEN, id="moderator_erases"),
        pytest.param("admin", ALLOWED, id="admin_erases"),
        pytest.param("other_workspace_admin", UNAUTHENTICATED, id="other_workspace_admin_erases"),
    ],
)
async def test_only_admins_erase_users(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    await world.idea()
    alice = await user_id(world, "author")
    payload = await mutate(world, actor, ERASE, {"userId": alice})
    if refusal is ALLOWED:
        assert payload == {"userErrors": []}
        assert (await user(world, alice))["erased"] is True
    else:
        assert payload == {"userErrors": [refusal]}
        assert await user(world, alice) == {"name": "Alice", "externalId": "alice", "erased": False}


@pytest.mark.parametrize(
    ("target", "error"),
    [
        pytest.param("admin", {"field": ["input", "userId"], "code": "INVALID"}, id="api_key_user"),
        pytest.param("erased", {"field": ["input", "userId"], "code": "INVALID"}, id="already_erased"),
        pytest.param("malformed", {"field": ["input", "userId"], "code": "INVALID"}, id="malformed_id"),
        pytest.param("unknown", {"field": ["input", "userId"], "code": "NOT_FOUND"}, id="unknown_user"),
    ],
)
async def test_bad_erase_input_is_refused_and_nothing_changes(world: World, target: str, error: dict[str, Any]) -> None:
    await world.idea()
    alice = await user_id(world, "author")
    admin = await user_id(world, "admin")
    if target == "erased":
        await mutate(world, "admin", ERASE, {"userId": alice})
    target_id = {"admin": admin, "erased": alice, "malformed": "not-an-id", "unknown": "VXNlcjo5OTk"}[target]
    before = [await user(world, alice), await user(world, admin)]

    payload = await mutate(world, "admin", ERASE, {"userId": target_id})

    assert payload == {"userErrors": [error]}
    assert [await user(world, alice), await user(world, admin)] == before
