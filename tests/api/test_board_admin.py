"""updateBoard: admins edit a board, archive it (read-only, hidden from `boards` unless asked) and restore it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, Workspace
from tests.api.test_permissions import ALLOWED, FORBIDDEN, UNAUTHENTICATED, World, mutate

UPDATE = """mutation($input: UpdateBoardInput!) { updateBoard(input: $input) {
  board { slug name description visibility archived } userErrors { field code } } }"""
BOARD = """query($slug: String!) { board(workspace: "acme", slug: $slug) {
  slug name description visibility archived archivedAt } }"""
BOARDS = """query($all: Boolean) { boards(workspace: "acme", includeArchived: $all) {
  totalCount edges { node { slug archived } } } }"""
ARCHIVED = "BOARD_ARCHIVED"


@pytest.fixture
def world(api: Api, services: Any, ws: Workspace) -> World:
    return World(api, services, ws)


async def board(world: World, slug: str = "public") -> dict[str, Any]:
    found: dict[str, Any] = (await world.api(BOARD, {"slug": slug}, auth=world.ws.api_key))["data"]["board"]
    return found


async def update(world: World, board_id: str, **fields: Any) -> dict[str, Any]:
    return await mutate(world, "admin", UPDATE, {"boardId": board_id, **fields})


async def listed(world: World, include_archived: bool | None, actor: str = "admin") -> list[str]:
    body = await world.api(BOARDS, {"all": include_archived}, auth=await world.auth(actor))
    connection = body["data"]["boards"]
    assert connection["totalCount"] == len(connection["edges"])
    return [edge["node"]["slug"] for edge in connection["edges"]]


async def test_an_admin_renames_redescribes_and_hides_a_board(world: World) -> None:
    board_id = await world.board()
    payload = await update(world, board_id, name="  Roadmap  ", description="What we build next.", visibility="PRIVATE")
    expected = {
        "slug": "public",
        "name": "Roadmap",
        "description": "What we build next.",
        "visibility": "PRIVATE",
        "archived": False,
    }
    assert payload == {"board": expected, "userErrors": []}
    assert await board(world) == {**expected, "archivedAt": None}
    assert (await world.api(BOARD, {"slug": "public"}))["data"]["board"] is None  # private now: anonymous sees nothing


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"name": None, "description": None, "visibility": None, "archived": None}, id="all_null"),
        pytest.param({}, id="all_omitted"),
    ],
)
async def test_null_or_omitted_fields_leave_the_board_as_it_is(world: World, fields: dict[str, Any]) -> None:
    board_id = await world.board()
    before = await board(world)
    payload = await update(world, board_id, **fields)
    assert payload == {"board": {k: before[k] for k in payload["board"]}, "userErrors": []}
    assert await board(world) == before


async def test_an_empty_description_clears_it(world: World) -> None:
    board_id = await world.board()
    await update(world, board_id, description="Something")
    assert (await update(world, board_id, description=""))["board"]["description"] == ""


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param({"name": "   "}, {"field": ["input", "name"], "code": "INVALID"}, id="blank_name"),
        pytest.param({"name": "x" * 201}, {"field": ["input", "name"], "code": "INVALID"}, id="name_too_long"),
        pytest.param(
            {"name": "Fine", "description": "x" * 5001},
            {"field": ["input", "description"], "code": "INVALID"},
            id="description_too_long_with_a_good_name",
        ),
        pytest.param(
            {"description": "a\u202eb"}, {"field": ["input", "description"], "code": "INVALID"}, id="bidi_override"
        ),
        pytest.param(
            {"boardId": "not-an-id", "name": "Fine"},
            {"field": ["input", "boardId"], "code": "INVALID"},
            id="malformed_board_id",
        ),
        pytest.param(
            {"boardId": "Qm9hcmQ6OTk", "name": "Fine"},  # Board:99
            {"field": ["input", "boardId"], "code": "NOT_FOUND"},
            id="unknown_board",
        ),
    ],
)
async def test_bad_input_is_refused_and_nothing_changes(
    world: World, fields: dict[str, Any], error: dict[str, Any]
) -> None:
    board_id = await world.board()
    before = await board(world)
    payload = await mutate(world, "admin", UPDATE, {"boardId": board_id, **fields})
    assert payload == {"board": None, "userErrors": [error]}
    assert await board(world) == before


# Archiving -----------------------------------------------------------------------------------------------------


async def test_an_archived_board_is_hidden_from_boards_unless_asked_and_still_readable(world: World) -> None:
    public = await world.board("PUBLIC")
    await world.board("PRIVATE")

    payload = await update(world, public, archived=True)

    assert payload["userErrors"] == [] and payload["board"]["archived"] is True
    found = await board(world)
    assert (found["archived"], found["archivedAt"] is not None) == (True, True)
    assert await listed(world, None) == ["private"]
    assert await listed(world, False) == ["private"]
    assert await listed(world, True) == ["public", "private"]
    assert await listed(world, True, actor="anonymous") == ["public"]
    assert (await world.api(BOARD, {"slug": "public"}))["data"]["board"]["archived"] is True


async def test_unarchiving_restores_the_board(world: World) -> None:
    board_id = await world.board()
    idea = await world.idea()
    await update(world, board_id, archived=True)

    payload = await update(world, board_id, archived=False)

    assert payload["board"]["archived"] is False
    assert (await board(world))["archivedAt"] is None
    assert await listed(world, None) == ["public"]
    body = await mutate(world, "member", VOTE, {"ideaId": idea, "value": "UP"})
    assert body == {"idea": {"votes": {"up": 1, "down": 0}}, "userErrors": []}


async def test_archiving_an_archived_board_keeps_when_it_was_archived(world: World) -> None:
    board_id = await world.board()
    await update(world, board_id, archived=True)
    first = (await board(world))["archivedAt"]
    await update(world, board_id, archived=True, name="Old ideas")
    assert (await board(world))["archivedAt"] == first


SUBMIT = (
    """mutation($input: SubmitIdeaInput!) { submitIdea(input: $input) { idea { id } userErrors { field code } } }"""
)
VOTE = (
    """mutation($input: VoteInput!) { vote(input: $input) { idea { votes { up down } } userErrors { field code } } }"""
)
COMPARE = """mutation($input: CompareIdeasInput!) { compareIdeas(input: $input) {
  winner { id } userErrors { field code } } }"""
COMMENT = (
    """mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } userErrors { field code } } }"""
)
EDIT = """mutation($input: EditIdeaInput!) { editIdea(input: $input) { idea { id } userErrors { field code } } }"""
STATUS = """mutation($input: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $input) {
  idea { id } userErrors { field code } } }"""
MERGE = """mutation($input: MergeIdeasInput!) { mergeIdeas(input: $input) { userErrors { field code } } }"""
FOLLOW = """mutation($input: FollowIdeaInput!) { followIdea(input: $input) {
  idea { followerCount } userErrors { field code } } }"""


@pytest.mark.parametrize(
    ("actor", "document", "make_input", "field"),
    [
        pytest.param("member", SUBMIT, lambda b, i, j: {"boardId": b, "title": "Offline mode"}, "boardId", id="submit"),
        pytest.param("member", VOTE, lambda b, i, j: {"ideaId": i, "value": "UP"}, "ideaId", id="vote"),
        pytest.param("member", VOTE, lambda b, i, j: {"ideaId": i, "value": None}, "ideaId", id="withdraw_vote"),
        pytest.param("member", COMPARE, lambda b, i, j: {"winnerId": i, "loserId": j}, "winnerId", id="compare"),
        pytest.param("member", COMMENT, lambda b, i, j: {"ideaId": i, "body": "Me too"}, "ideaId", id="comment"),
        pytest.param("author", EDIT, lambda b, i, j: {"ideaId": i, "title": "Dark theme"}, "ideaId", id="edit"),
        pytest.param(
            "moderator", STATUS, lambda b, i, j: {"ideaId": i, "status": "UNDER_REVIEW"}, "ideaId", id="change_status"
        ),
        pytest.param("moderator", MERGE, lambda b, i, j: {"sourceId": j, "targetId": i}, "sourceId", id="merge"),
    ],
)
async def test_an_archived_board_refuses_every_change_to_its_ideas(
    world: World, actor: str, document: str, make_input: Any, field: str
) -> None:
    board_id = await world.board()
    first, second = await world.idea("Dark mode"), await world.idea("Offline mode")
    await mutate(world, "member", VOTE, {"ideaId": first, "value": "UP"})
    await update(world, board_id, archived=True)
    before = [await world.state(first), await world.state(second)]
    comparisons = await world.comparison_count()

    payload = await mutate(world, actor, document, make_input(board_id, first, second))

    assert payload["userErrors"] == [{"field": ["input", field], "code": ARCHIVED}]
    assert [await world.state(first), await world.state(second)] == before
    assert await world.comparison_count() == comparisons
    assert await world.board_idea_count() == 2


async def test_the_refusal_says_the_board_is_archived(world: World) -> None:
    board_id = await world.board()
    await update(world, board_id, name="Old ideas", archived=True)
    body = await world.api(
        "mutation($input: SubmitIdeaInput!) { submitIdea(input: $input) { userErrors { message } } }",
        {"input": {"boardId": board_id, "title": "Offline mode"}},
        auth=world.ws.token("bob"),
    )
    assert body["data"]["submitIdea"]["userErrors"] == [
        {"message": "The board 'Old ideas' is archived: it can be read but not changed."}
    ]


async def test_on_an_archived_board_permission_refusals_come_first(world: World) -> None:
    board_id = await world.board()
    await update(world, board_id, archived=True)
    payload = await mutate(world, "anonymous", SUBMIT, {"boardId": board_id, "title": "Offline mode"})
    assert payload == {"idea": None, "userErrors": [UNAUTHENTICATED]}


async def test_following_still_works_and_no_pair_is_offered_on_an_archived_board(world: World) -> None:
    board_id = await world.board()
    first = await world.idea("Dark mode")
    await world.idea("Offline mode")
    await update(world, board_id, archived=True)

    payload = await mutate(world, "member", FOLLOW, {"ideaId": first, "follow": True})
    assert payload == {"idea": {"followerCount": 2}, "userErrors": []}
    body = await world.api(
        "query($b: ID!) { pairwiseMatchup(boardId: $b) { left { id } } }", {"b": board_id}, auth=world.ws.token("bob")
    )
    assert body["data"] == {"pairwiseMatchup": None}
    edit = await world.api(
        "query($id: ID!) { idea(id: $id) { viewerCanEdit } }", {"id": first}, auth=world.ws.token("alice")
    )
    assert edit["data"] == {"idea": {"viewerCanEdit": False}}


# Permissions ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "visibility", "refusal"),
    [
        pytest.param("anonymous", "PUBLIC", UNAUTHENTICATED, id="anonymous_updates_board"),
        pytest.param("member", "PUBLIC", FORBIDDEN, id="member_updates_board"),
        pytest.param("moderator", "PUBLIC", FORBIDDEN, id="moderator_updates_board"),
        pytest.param("admin", "PUBLIC", ALLOWED, id="admin_updates_board"),
        pytest.param("admin", "PRIVATE", ALLOWED, id="admin_updates_private_board"),
        pytest.param(
            "other_workspace_admin", "PUBLIC", UNAUTHENTICATED, id="other_workspace_admin_updates_public_board"
        ),
        pytest.param(
            "other_workspace_admin",
            "PRIVATE",
            {"field": ["input", "boardId"], "code": "NOT_FOUND"},
            id="other_workspace_admin_updates_private_board",
        ),
    ],
)
async def test_updating_a_board(world: World, actor: str, visibility: str, refusal: dict[str, Any] | None) -> None:
    board_id = await world.board(visibility)
    slug = visibility.lower()
    before = await board(world, slug)
    payload = await mutate(world, actor, UPDATE, {"boardId": board_id, "name": "Archive", "archived": True})
    if refusal is ALLOWED:
        assert payload == {
            "board": {"slug": slug, "name": "Archive", "description": "", "visibility": visibility, "archived": True},
            "userErrors": [],
        }
        assert (await board(world, slug))["archived"] is True
    else:
        assert payload == {"board": None, "userErrors": [refusal]}
        assert await board(world, slug) == before
