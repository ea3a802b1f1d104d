"""Custom status labels (issue 13, item 8): a board names the seven statuses in its own words through updateBoard."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, Workspace
from tests.api.test_permissions import ALLOWED, FORBIDDEN, UNAUTHENTICATED, World, mutate

UPDATE = """mutation($input: UpdateBoardInput!) { updateBoard(input: $input) {
  board { statusLabels { status label } } userErrors { field code } } }"""
LABELS = """{ board(workspace: "acme", slug: "public") { statusLabels { status label } } }"""
DEFAULTS = [
    {"status": "SUBMITTED", "label": "Submitted"},
    {"status": "UNDER_REVIEW", "label": "Under review"},
    {"status": "PLANNED", "label": "Planned"},
    {"status": "IN_PROGRESS", "label": "In progress"},
    {"status": "LAUNCHED", "label": "Launched"},
    {"status": "DECLINED", "label": "Declined"},
    {"status": "MERGED", "label": "Merged"},
]


@pytest.fixture
def world(api: Api, services: Any, ws: Workspace) -> World:
    return World(api, services, ws)


async def labels(world: World) -> list[dict[str, str]]:
    found: list[dict[str, str]] = (await world.api(LABELS))["data"]["board"]["statusLabels"]
    return found


def with_labels(**custom: str) -> list[dict[str, str]]:
    return [{**d, "label": custom.get(d["status"], d["label"])} for d in DEFAULTS]


async def test_a_board_starts_with_the_default_labels(world: World) -> None:
    await world.board()
    assert await labels(world) == DEFAULTS


async def test_an_admin_names_statuses_and_everyone_reads_them(world: World) -> None:
    board = await world.board()
    payload = await mutate(
        world,
        "admin",
        UPDATE,
        {
            "boardId": board,
            "statusLabels": [
                {"status": "PLANNED", "label": "  On the roadmap "},
                {"status": "LAUNCHED", "label": "Shipped"},
            ],
        },
    )
    expected = with_labels(PLANNED="On the roadmap", LAUNCHED="Shipped")
    assert payload == {"board": {"statusLabels": expected}, "userErrors": []}
    assert await labels(world) == expected  # read anonymously


async def test_labels_given_replace_the_old_ones_and_an_empty_list_resets_them(world: World) -> None:
    board = await world.board()
    await mutate(world, "admin", UPDATE, {"boardId": board, "statusLabels": [{"status": "PLANNED", "label": "Soon"}]})
    await mutate(world, "admin", UPDATE, {"boardId": board, "statusLabels": [{"status": "DECLINED", "label": "No"}]})
    assert await labels(world) == with_labels(DECLINED="No")
    await mutate(world, "admin", UPDATE, {"boardId": board, "name": "Renamed"})  # omitted: unchanged
    await mutate(world, "admin", UPDATE, {"boardId": board, "statusLabels": None})  # null: unchanged
    assert await labels(world) == with_labels(DECLINED="No")
    await mutate(world, "admin", UPDATE, {"boardId": board, "statusLabels": []})
    assert await labels(world) == DEFAULTS


async def test_followers_are_told_the_new_status_in_the_boards_words(world: World) -> None:
    board = await world.board()
    idea = await world.idea("Dark mode")
    await mutate(
        world,
        "member",
        "mutation($input: FollowIdeaInput!) { followIdea(input: $input) { userErrors { code } } }",
        {"ideaId": idea, "follow": True},
    )
    await mutate(
        world,
        "admin",
        UPDATE,
        {"boardId": board, "statusLabels": [{"status": "UNDER_REVIEW", "label": "Being weighed"}]},
    )
    status = """mutation($input: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $input) {
      idea { status } userErrors { code } } }"""

    payload = await mutate(world, "moderator", status, {"ideaId": idea, "status": "UNDER_REVIEW"})

    assert payload == {"idea": {"status": "UNDER_REVIEW"}, "userErrors": []}  # the rules stay the enum
    body = await world.api(
        "{ viewer { notifications { edges { node { message } } } } }", auth=await world.auth("member")
    )
    assert body["data"]["viewer"]["notifications"]["edges"] == [
        {"node": {"message": "“Dark mode” is now Being weighed."}}
    ]


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        pytest.param("anonymous", UNAUTHENTICATED, id="anonymous_labels_statuses"),
        pytest.param("member", FORBIDDEN, id="member_labels_statuses"),
        pytest.param("moderator", FORBIDDEN, id="moderator_labels_statuses"),
        pytest.param("admin", ALLOWED, id="admin_labels_statuses"),
        pytest.param("other_workspace_admin", UNAUTHENTICATED, id="other_workspace_admin_labels_statuses"),
    ],
)
async def test_only_admins_label_statuses(world: World, actor: str, refusal: dict[str, Any] | None) -> None:
    board = await world.board()
    payload = await mutate(
        world, actor, UPDATE, {"boardId": board, "statusLabels": [{"status": "PLANNED", "label": "Soon"}]}
    )
    if refusal is ALLOWED:
        assert payload["userErrors"] == [] and await labels(world) == with_labels(PLANNED="Soon")
    else:
        assert payload == {"board": None, "userErrors": [refusal]}
        assert await labels(world) == DEFAULTS


@pytest.mark.parametrize(
    ("given", "field"),
    [
        pytest.param(
            [{"status": "PLANNED", "label": "Soon"}, {"status": "PLANNED", "label": "Later"}],
            ["input", "statusLabels", "1", "status"],
            id="a_status_twice",
        ),
        pytest.param([{"status": "PLANNED", "label": "   "}], ["input", "statusLabels", "0", "label"], id="blank"),
        pytest.param([{"status": "PLANNED", "label": "x" * 41}], ["input", "statusLabels", "0", "label"], id="long"),
        pytest.param(
            [{"status": "LAUNCHED", "label": "Done"}, {"status": "PLANNED", "label": "a\u202eb"}],
            ["input", "statusLabels", "1", "label"],
            id="bidi_control",
        ),
    ],
)
async def test_bad_labels_are_refused_and_nothing_changes(
    world: World, given: list[dict[str, str]], field: list[str]
) -> None:
    board = await world.board()
    await mutate(world, "admin", UPDATE, {"boardId": board, "statusLabels": [{"status": "DECLINED", "label": "No"}]})
    payload = await mutate(world, "admin", UPDATE, {"boardId": board, "name": "Renamed", "statusLabels": given})
    assert payload == {"board": None, "userErrors": [{"field": field, "code": "INVALID"}]}
    assert await labels(world) == with_labels(DECLINED="No")
    body = await world.api("""{ board(workspace: "acme", slug: "public") { name } }""")
    assert body["data"]["board"]["name"] == "Public ideas"
