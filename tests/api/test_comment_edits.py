"""editComment and deleteComment (issue 13, item 6): authors rewrite and delete their own comments, moderators
delete anyone's, earlier bodies stay readable to moderators, and a deleted comment that later comments follow
stays as a placeholder so the conversation still reads."""

from __future__ import annotations

from typing import Any

import pytest

from schema.relay import encode_id
from tests.api.conftest import Api, Workspace
from tests.api.test_permissions import ALLOWED, FORBIDDEN, UNAUTHENTICATED, World, mutate

EDIT = """mutation($input: EditCommentInput!) { editComment(input: $input) {
  comment { body editedAt author { name } } userErrors { field code } } }"""
DELETE = """mutation($input: DeleteCommentInput!) { deleteComment(input: $input) { userErrors { field code } } }"""
COMMENTS = """query($id: ID!) { idea(id: $id) { comments { totalCount edges { node {
  id body editedAt deletedAt author { name } revisions { body editor { name } } } } } } }"""


@pytest.fixture
def world(api: Api, services: Any, ws: Workspace) -> World:
    return World(api, services, ws)


async def comment(world: World, idea: str, body: str, actor: str = "author") -> str:
    payload = await mutate(
        world,
        actor,
        "mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } userErrors { code } } }",
        {"ideaId": idea, "body": body},
    )
    assert payload["userErrors"] == []
    return str(payload["comment"]["id"])


async def thread(world: World, idea: str, actor: str = "admin") -> dict[str, Any]:
    """The idea's comments as `actor` reads them (the admin by default: revisions included)."""
    found: dict[str, Any] = (await world.api(COMMENTS, {"id": idea}, auth=await world.auth(actor)))["data"]["idea"][
        "comments"
    ]
    return found


def bodies(found: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["node"]["body"], (e["node"]["author"] or {}).get("name")) for e in found["edges"]]


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_edits_comment"),
        pytest.param("author", ALLOWED, id="member_edits_own_comment"),
        pytest.param("member", FORBIDDEN, id="member_edits_other_comment"),
        pytest.param("moderator", FORBIDDEN, id="moderator_edits_other_comment"),
        pytest.param("admin", FORBIDDEN, id="admin_edits_other_comment"),
        pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_edits_comment"),
        pytest.param("other_workspace_admin", UNAUTHENTICATED, id="other_workspace_admin_edits_comment"),
    ],
)
async def test_editing_a_comment(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    idea = await world.idea()
    mine = await comment(world, idea, "Me too")
    before = await thread(world, idea)
    payload = await mutate(world, actor, EDIT, {"commentId": mine, "body": "Me too, on mobile"})
    after = await thread(world, idea)
    if refusal is ALLOWED:
        edited_at = payload["comment"]["editedAt"]
        assert edited_at is not None
        assert payload == {
            "comment": {"body": "Me too, on mobile", "editedAt": edited_at, "author": {"name": "Alice"}},
            "userErrors": [],
        }
        node = after["edges"][0]["node"]
        assert (node["body"], node["editedAt"], node["revisions"]) == (
            "Me too, on mobile",
            edited_at,
            [{"body": "Me too", "editor": {"name": "Alice"}}],
        )
    else:
        assert payload == {"comment": None, "userErrors": [refusal]}
        assert after == before


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_deletes_comment"),
        pytest.param("author", ALLOWED, id="member_deletes_own_comment"),
        pytest.param("member", FORBIDDEN, id="member_deletes_other_comment"),
        pytest.param("moderator", ALLOWED, id="moderator_deletes_other_comment"),
        pytest.param("admin", ALLOWED, id="admin_deletes_other_comment"),
        pytest.param("other_workspace_member", UNAUTHENTICATED, id="other_workspace_member_deletes_comment"),
        pytest.param("other_workspace_admin", UNAUTHENTICATED, id="other_workspace_admin_deletes_comment"),
    ],
)
async def test_deleting_a_comment(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    idea = await world.idea()
    mine = await comment(world, idea, "Me too")
    before = await thread(world, idea)
    payload = await mutate(world, actor, DELETE, {"commentId": mine})
    after = await thread(world, idea)
    if refusal is ALLOWED:
        assert payload == {"userErrors": []}
        assert after == {"totalCount": 0, "edges": []}  # nothing follows it: no placeholder
        gone = await world.api("query($id: ID!) { node(id: $id) { id } }", {"id": mine}, auth=world.ws.api_key)
        assert gone["data"] == {"node": None}
    else:
        assert payload == {"userErrors": [refusal]}
        assert after == before


async def test_a_deleted_comment_that_others_follow_stays_as_a_placeholder(world: World) -> None:
    idea = await world.idea()
    first = await comment(world, idea, "Call me on 555-0100")
    await comment(world, idea, "Please don't post numbers here", actor="member")
    assert (await mutate(world, "author", DELETE, {"commentId": first})) == {"userErrors": []}

    for reader in ("anonymous", "member"):
        seen = await thread(world, idea, reader)
        assert seen["totalCount"] == 2
        assert bodies(seen) == [("deleted", None), ("Please don't post numbers here", "Bob")]
        placeholder = seen["edges"][0]["node"]
        assert placeholder["deletedAt"] is not None and placeholder["revisions"] is None  # not for members
    moderated = await thread(world, idea, "moderator")
    assert moderated["edges"][0]["node"]["revisions"] == [{"body": "Call me on 555-0100", "editor": {"name": "Alice"}}]

    # Once nothing that stands follows it, the placeholder goes too.
    second = moderated["edges"][1]["node"]["id"]
    assert (await mutate(world, "moderator", DELETE, {"commentId": second})) == {"userErrors": []}
    assert await thread(world, idea, "anonymous") == {"totalCount": 0, "edges": []}


async def test_an_edit_that_changes_nothing_records_nothing(world: World) -> None:
    idea = await world.idea()
    mine = await comment(world, idea, "Me too")
    payload = await mutate(world, "author", EDIT, {"commentId": mine, "body": "  Me too  "})
    assert payload == {"comment": {"body": "Me too", "editedAt": None, "author": {"name": "Alice"}}, "userErrors": []}
    assert (await thread(world, idea))["edges"][0]["node"]["revisions"] == []


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param("empty_body", {"field": ["input", "body"], "code": "INVALID"}, id="empty_body"),
        pytest.param("long_body", {"field": ["input", "body"], "code": "INVALID"}, id="body_over_5000"),
        pytest.param("deleted", {"field": ["input", "commentId"], "code": "INVALID"}, id="edit_deleted_comment"),
        pytest.param("unknown", {"field": ["input", "commentId"], "code": "NOT_FOUND"}, id="unknown_comment"),
        pytest.param("idea_id", {"field": ["input", "commentId"], "code": "INVALID"}, id="an_idea_id"),
        pytest.param("archived", {"field": ["input", "commentId"], "code": "BOARD_ARCHIVED"}, id="archived_board"),
    ],
)
async def test_bad_edits_are_user_errors_and_change_nothing(world: World, case: str, expected: dict[str, Any]) -> None:
    idea = await world.idea()
    mine = await comment(world, idea, "Me too")
    await comment(world, idea, "Same here", actor="member")  # so a deleted comment stays listed
    target, body = mine, "Me too, on mobile"
    if case == "empty_body":
        body = "   "
    elif case == "long_body":
        body = "x" * 5001
    elif case == "deleted":
        assert (await mutate(world, "author", DELETE, {"commentId": mine})) == {"userErrors": []}
    elif case == "unknown":
        target = str(encode_id("Comment", 999_999))
    elif case == "idea_id":
        target = idea
    elif case == "archived":
        archive = "mutation($i: UpdateBoardInput!) { updateBoard(input: $i) { userErrors { code } } }"
        await world.api(archive, {"i": {"boardId": await world.board(), "archived": True}}, auth=world.ws.api_key)
    before = await thread(world, idea)
    payload = await mutate(world, "author", EDIT, {"commentId": target, "body": body})
    assert payload == {"comment": None, "userErrors": [expected]}
    assert await thread(world, idea) == before


async def test_deleting_twice_is_invalid_and_a_moderator_may_delete_on_an_archived_board(world: World) -> None:
    idea = await world.idea()
    mine = await comment(world, idea, "Spam spam spam")
    await comment(world, idea, "Reported", actor="member")
    archive = "mutation($i: UpdateBoardInput!) { updateBoard(input: $i) { userErrors { code } } }"
    await world.api(archive, {"i": {"boardId": await world.board(), "archived": True}}, auth=world.ws.api_key)
    assert (await mutate(world, "moderator", DELETE, {"commentId": mine})) == {"userErrors": []}
    before = await thread(world, idea)
    assert bodies(before) == [("deleted", None), ("Reported", "Bob")]
    again = await mutate(world, "moderator", DELETE, {"commentId": mine})
    assert again == {"userErrors": [{"field": ["input", "commentId"], "code": "INVALID"}]}
    assert await thread(world, idea) == before


async def test_a_deleted_comment_no_longer_makes_its_author_known_outside_the_workspace(world: World) -> None:
    idea = await world.idea()
    written = await world.api(
        "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id author { id } } } }",
        {"i": {"ideaId": idea, "body": "Me too"}},
        auth=world.ws.token("bob"),
    )
    found = written["data"]["addComment"]["comment"]
    outsider = await world.auth("other_workspace_member")
    lookup = "query($id: ID!) { node(id: $id) { ... on User { name } } }"
    assert (await world.api(lookup, {"id": found["author"]["id"]}, auth=outsider))["data"] == {"node": {"name": "Bob"}}
    assert (await mutate(world, "member", DELETE, {"commentId": found["id"]})) == {"userErrors": []}
    assert (await world.api(lookup, {"id": found["author"]["id"]}, auth=outsider))["data"] == {"node": None}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("\u200b\u200b\u200b", id="zero_width_spaces"),
        pytest.param("\u2060 \ufeff\u200d\n\u00ad", id="joiners_marks_and_blanks"),
    ],
)
async def test_a_comment_of_only_invisible_characters_is_refused_naming_the_body(world: World, body: str) -> None:
    """A comment that shows nothing would read as an empty row: adding or editing to one is INVALID on `body`."""
    idea = await world.idea()
    mine = await comment(world, idea, "Me too")
    before = await thread(world, idea)
    refusal = [{"field": ["input", "body"], "code": "INVALID", "message": "A comment must contain visible characters."}]
    added = await mutate(
        world,
        "author",
        """mutation($input: AddCommentInput!) { addComment(input: $input) {
        comment { id } userErrors { field code message } } }""",
        {"ideaId": idea, "body": body},
    )
    assert added == {"comment": None, "userErrors": refusal}
    edited = await mutate(
        world,
        "author",
        """mutation($input: EditCommentInput!) { editComment(input: $input) {
        comment { body } userErrors { field code message } } }""",
        {"commentId": mine, "body": body},
    )
    assert edited == {"comment": None, "userErrors": refusal}
    assert await thread(world, idea) == before
