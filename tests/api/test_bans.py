"""banUser / unbanUser (issue 13, item 5): a banned user reads like anonymous and every write is FORBIDDEN."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.conftest import Api, Workspace
from tests.api.test_permissions import ALLOWED, FORBIDDEN, UNAUTHENTICATED, World, mutate

BAN = """mutation($input: BanUserInput!) { banUser(input: $input) {
  user { name ban { until reason } } userErrors { field code } } }"""
UNBAN = """mutation($input: UnbanUserInput!) { unbanUser(input: $input) {
  user { name ban { until } } userErrors { field code } } }"""
USER_BAN = """query($id: ID!) { node(id: $id) { ... on User { name ban { until reason } } } }"""
BANNED_MESSAGE = (
    "You are banned from this workspace until a moderator lifts the ban: you can read like anyone, but not write."
)


@pytest.fixture
def world(api: Api, services: Any, ws: Workspace) -> World:
    return World(api, services, ws)


async def user_id(world: World, actor: str) -> str:
    body = await world.api("{ viewer { user { id } } }", auth=await world.auth(actor))
    return str(body["data"]["viewer"]["user"]["id"])


async def ban_of(world: World, user: str) -> Any:
    """The user's ban as the admin sees it (None when not banned)."""
    return (await world.api(USER_BAN, {"id": user}, auth=world.ws.api_key))["data"]["node"]["ban"]


async def ban(world: World, actor: str, user: str, **fields: Any) -> dict[str, Any]:
    return await mutate(world, actor, BAN, {"userId": user, **fields})


SUBMIT = """mutation($input: SubmitIdeaInput!) { submitIdea(input: $input) { userErrors { field code message } } }"""
VOTE = """mutation($input: VoteInput!) { vote(input: $input) { userErrors { field code message } } }"""
COMPARE = (
    """mutation($input: CompareIdeasInput!) { compareIdeas(input: $input) { userErrors { field code message } } }"""
)
COMMENT = """mutation($input: AddCommentInput!) { addComment(input: $input) { userErrors { field code message } } }"""
EDIT = """mutation($input: EditIdeaInput!) { editIdea(input: $input) { userErrors { field code message } } }"""
FOLLOW = """mutation($input: FollowIdeaInput!) { followIdea(input: $input) { userErrors { field code message } } }"""
READ_ALL = """mutation($input: MarkNotificationsReadInput!) { markNotificationsRead(input: $input) {
  userErrors { field code message } } }"""
STATUS = """mutation($input: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $input) {
  userErrors { field code message } } }"""
MERGE = """mutation($input: MergeIdeasInput!) { mergeIdeas(input: $input) { userErrors { field code message } } }"""
BAN_OTHER = """mutation($input: BanUserInput!) { banUser(input: $input) { userErrors { field code message } } }"""


@pytest.mark.parametrize(
    ("actor", "document", "make_input"),
    [
        pytest.param("member", SUBMIT, lambda w: {"boardId": w["board"], "title": "Offline mode"}, id="submit"),
        pytest.param("member", VOTE, lambda w: {"ideaId": w["first"], "value": "UP"}, id="vote"),
        pytest.param("member", COMPARE, lambda w: {"winnerId": w["first"], "loserId": w["second"]}, id="compare"),
        pytest.param("member", COMMENT, lambda w: {"ideaId": w["first"], "body": "Me too"}, id="comment"),
        pytest.param("member", FOLLOW, lambda w: {"ideaId": w["first"], "follow": True}, id="follow"),
        pytest.param("member", READ_ALL, lambda w: {}, id="mark_notifications_read"),
        pytest.param("author", EDIT, lambda w: {"ideaId": w["first"], "title": "Dark theme"}, id="author_edits"),
        pytest.param(
            "moderator", STATUS, lambda w: {"ideaId": w["first"], "status": "UNDER_REVIEW"}, id="moderator_status"
        ),
        pytest.param("moderator", MERGE, lambda w: {"sourceId": w["second"], "targetId": w["first"]}, id="merge"),
        pytest.param("moderator", BAN_OTHER, lambda w: {"userId": w["member"]}, id="moderator_bans"),
    ],
)
async def test_a_banned_user_is_refused_every_write_and_told_why(
    world: World, actor: str, document: str, make_input: Any
) -> None:
    board = await world.board()
    first, second = await world.idea("Dark mode"), await world.idea("Offline mode")
    ids = {"board": board, "first": first, "second": second, "member": await user_id(world, "member")}
    target = await user_id(world, actor)
    assert (await ban(world, "admin", target))["userErrors"] == []
    before = [await world.state(first), await world.state(second)]
    comparisons = await world.comparison_count()

    payload = await mutate(world, actor, document, make_input(ids))

    assert payload["userErrors"] == [{"field": [], "code": "FORBIDDEN", "message": BANNED_MESSAGE}]
    assert [await world.state(first), await world.state(second)] == before
    assert await world.comparison_count() == comparisons
    assert await world.board_idea_count() == 2
    assert await ban_of(world, ids["member"]) == (None if actor != "member" else {"until": None, "reason": None})


async def test_a_banned_user_reads_like_anonymous_and_hears_why(world: World) -> None:
    await world.board("PUBLIC")
    await world.idea("Dark mode", visibility="PRIVATE")
    member = await user_id(world, "member")
    await ban(world, "moderator", member, reason="Spam links")

    query = """{ viewer { role user { id } }
      boards(workspace: "acme") { edges { node { slug } } }
      board(workspace: "acme", slug: "private") { slug } }"""
    body = await world.api(query, auth=await world.auth("member"))

    assert body["data"] == {
        "viewer": {"role": "ANONYMOUS", "user": None},
        "boards": {"edges": [{"node": {"slug": "public"}}]},
        "board": None,
    }
    assert body["extensions"]["authentication"] == {"errors": [BANNED_MESSAGE]}


async def test_a_ban_takes_effect_at_once_and_unbanning_lifts_it_at_once(world: World) -> None:
    idea = await world.idea()
    member = await user_id(world, "member")  # the member's credential is now in the server's cache
    vote = {"ideaId": idea, "value": "UP"}

    assert (await ban(world, "moderator", member))["userErrors"] == []
    assert (await mutate(world, "member", VOTE, vote))["userErrors"][0]["code"] == "FORBIDDEN"

    payload = await mutate(world, "moderator", UNBAN, {"userId": member})
    assert payload == {"user": {"name": "Bob", "ban": None}, "userErrors": []}
    assert (await mutate(world, "member", VOTE, vote))["userErrors"] == []
    assert (await world.state(idea))["votes"] == {"up": 1, "down": 0}


async def test_a_timed_ban_ends_by_itself(world: World) -> None:
    idea = await world.idea()
    member = await user_id(world, "member")
    until = datetime.now(UTC) + timedelta(seconds=1.5)
    payload = await ban(world, "moderator", member, until=until.isoformat(), reason="  Cool down  ")
    assert payload["userErrors"] == []
    assert payload["user"]["ban"] == {"until": until.isoformat(), "reason": "Cool down"}
    assert (await mutate(world, "member", VOTE, {"ideaId": idea, "value": "UP"}))["userErrors"][0]["code"] == (
        "FORBIDDEN"
    )

    await asyncio.sleep(1.6)

    assert await ban_of(world, member) is None
    assert (await mutate(world, "member", VOTE, {"ideaId": idea, "value": "UP"}))["userErrors"] == []


async def test_banning_again_replaces_the_ban(world: World) -> None:
    member = await user_id(world, "member")
    await ban(world, "moderator", member, until=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    payload = await ban(world, "moderator", member, reason="For good")
    assert payload == {"user": {"name": "Bob", "ban": {"until": None, "reason": "For good"}}, "userErrors": []}


async def test_only_moderators_and_admins_see_a_ban(world: World) -> None:
    member = await user_id(world, "member")
    await ban(world, "admin", member, reason="Spam links")
    for actor, expected in [
        ("admin", {"until": None, "reason": "Spam links"}),
        ("moderator", {"until": None, "reason": "Spam links"}),
        ("author", None),
    ]:
        body = await world.api(USER_BAN, {"id": member}, auth=await world.auth(actor))
        assert body["data"]["node"]["ban"] == expected, actor


# The permission matrix: who may ban whom ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "target", "refusal"),
    [
        pytest.param("anonymous", "member", UNAUTHENTICATED, id="anonymous_bans"),
        pytest.param("author", "member", FORBIDDEN, id="member_bans_member"),
        pytest.param("moderator", "member", ALLOWED, id="moderator_bans_member"),
        pytest.param("admin", "member", ALLOWED, id="admin_bans_member"),
        pytest.param(
            "moderator", "other_moderator", {"field": ["input", "userId"], "code": "FORBIDDEN"}, id="moderator_bans_mod"
        ),
        pytest.param("admin", "other_moderator", ALLOWED, id="admin_bans_moderator"),
        pytest.param("other_workspace_member", "member", UNAUTHENTICATED, id="other_workspace_member_bans"),
        pytest.param("other_workspace_admin", "member", UNAUTHENTICATED, id="other_workspace_admin_bans"),
    ],
)
async def test_who_may_ban(world: World, actor: str, target: str, refusal: dict[str, Any] | None) -> None:
    idea = await world.idea()  # the author's name shows on a public board: other workspaces can see the user
    await world.comment(idea)  # so can the member's
    if target == "other_moderator":
        body = await world.api("{ viewer { user { id } } }", auth=world.ws.token("max", role="moderator"))
        target_id = str(body["data"]["viewer"]["user"]["id"])
    else:
        target_id = await user_id(world, target)

    payload = await ban(world, actor, target_id)

    if refusal is ALLOWED:
        assert payload["userErrors"] == [] and payload["user"]["ban"] == {"until": None, "reason": None}
        assert await ban_of(world, target_id) == {"until": None, "reason": None}
    else:
        assert payload == {"user": None, "userErrors": [refusal]}
        assert await ban_of(world, target_id) is None


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_unbans"),
        pytest.param("author", FORBIDDEN, id="member_unbans"),
        pytest.param("moderator", ALLOWED, id="moderator_unbans"),
        pytest.param("admin", ALLOWED, id="admin_unbans"),
        pytest.param("other_workspace_admin", UNAUTHENTICATED, id="other_workspace_admin_unbans"),
    ],
)
async def test_who_may_unban(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    await world.comment(await world.idea())
    member = await user_id(world, "member")
    await ban(world, "admin", member)

    payload = await mutate(world, actor, UNBAN, {"userId": member})

    if refusal is ALLOWED:
        assert payload == {"user": {"name": "Bob", "ban": None}, "userErrors": []}
        assert await ban_of(world, member) is None
    else:
        assert payload == {"user": None, "userErrors": [refusal]}
        assert await ban_of(world, member) == {"until": None, "reason": None}


# Bad input -----------------------------------------------------------------------------------------------------


async def test_banning_the_admins_api_key_user_is_refused(world: World) -> None:
    admin = await user_id(world, "admin")
    payload = await ban(world, "moderator", admin)
    assert payload == {"user": None, "userErrors": [{"field": ["input", "userId"], "code": "INVALID"}]}
    assert await ban_of(world, admin) is None
    assert (await mutate(world, "admin", SUBMIT, {"boardId": await world.board(), "title": "Still here"}))[
        "userErrors"
    ] == []


@pytest.mark.parametrize(
    ("target", "fields", "error"),
    [
        pytest.param("moderator", {}, {"field": ["input", "userId"], "code": "INVALID"}, id="self"),
        pytest.param(
            "member",
            {"until": "2020-01-01T00:00:00+00:00"},
            {"field": ["input", "until"], "code": "INVALID"},
            id="until_in_the_past",
        ),
        pytest.param("member", {"reason": "x" * 1001}, {"field": ["input", "reason"], "code": "INVALID"}, id="long"),
        pytest.param("member", {"reason": "a\x00b"}, {"field": ["input", "reason"], "code": "INVALID"}, id="nul"),
        pytest.param("malformed", {}, {"field": ["input", "userId"], "code": "INVALID"}, id="malformed_id"),
        pytest.param("unknown", {}, {"field": ["input", "userId"], "code": "NOT_FOUND"}, id="unknown_user"),
    ],
)
async def test_bad_ban_input_is_refused_and_nothing_changes(
    world: World, target: str, fields: dict[str, Any], error: dict[str, Any]
) -> None:
    member = await user_id(world, "member")
    target_id = {"malformed": "not-an-id", "unknown": "VXNlcjo5OTk"}.get(target)  # User:999
    target_id = target_id or await user_id(world, target)
    payload = await ban(world, "moderator", target_id, **fields)
    assert payload == {"user": None, "userErrors": [error]}
    assert await ban_of(world, member) is None
    assert await ban_of(world, await user_id(world, "moderator")) is None


async def test_unbanning_a_user_who_is_not_banned_is_refused(world: World) -> None:
    member = await user_id(world, "member")
    payload = await mutate(world, "moderator", UNBAN, {"userId": member})
    assert payload == {"user": None, "userErrors": [{"field": ["input", "userId"], "code": "INVALID"}]}
