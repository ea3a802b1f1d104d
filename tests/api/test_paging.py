"""Keyset cursors: pages stay exact while ideas come and go, in both directions, and a cursor only
works for the list (parent, sort and filters) it came from."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import board_ideas, create_board, drain, idea_id, vote


@pytest.fixture
async def board(api: Api, ws: Workspace) -> str:
    return await create_board(api, ws.api_key)


def ids_of(page: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in page["edges"]]


async def upvoted(api: Api, ws: Workspace, board: str, title: str, ups: int) -> str:
    target = await idea_id(api, ws.token("alice"), board, title)
    for n in range(ups):
        await vote(api, ws.token(f"voter{n}"), target, "UP")
    return target


async def test_newest_pages_forward_exactly_while_newer_ideas_arrive(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    old = [await idea_id(api, alice, board, f"Idea number {n}") for n in range(7)][::-1]  # newest first
    first = await board_ideas(api, None, "first: 3, sort: NEWEST", "id")
    assert ids_of(first) == old[:3]
    assert first["pageInfo"]["hasNextPage"] is True and first["pageInfo"]["hasPreviousPage"] is False
    await idea_id(api, alice, board, "Newer than the cursor")  # lands before the cursor: an offset would repeat
    second = await board_ideas(api, None, f'first: 3, sort: NEWEST, after: "{first["pageInfo"]["endCursor"]}"', "id")
    assert ids_of(second) == old[3:6]
    assert second["totalCount"] == 8
    assert second["pageInfo"]["hasPreviousPage"] is True
    await idea_id(api, alice, board, "Newer still")
    third = await board_ideas(api, None, f'first: 3, sort: NEWEST, after: "{second["pageInfo"]["endCursor"]}"', "id")
    assert ids_of(third) == old[6:]
    assert third["pageInfo"]["hasNextPage"] is False
    assert third["edges"][-1]["cursor"] == third["pageInfo"]["endCursor"]


async def test_newest_pages_backward_from_the_end_while_newer_ideas_arrive(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    old = [await idea_id(api, alice, board, f"Idea number {n}") for n in range(5)][::-1]
    last = await board_ideas(api, None, "last: 2, sort: NEWEST", "id")
    assert ids_of(last) == old[3:]
    assert last["pageInfo"]["hasPreviousPage"] is True and last["pageInfo"]["hasNextPage"] is False
    newer = await idea_id(api, alice, board, "Newer than everything")  # ahead of a backward walk: it is reached
    before = last["pageInfo"]["startCursor"]
    middle = await board_ideas(api, None, f'last: 2, sort: NEWEST, before: "{before}"', "id")
    assert ids_of(middle) == old[1:3]
    assert middle["pageInfo"]["hasPreviousPage"] is True and middle["pageInfo"]["hasNextPage"] is True
    before = middle["pageInfo"]["startCursor"]
    front = await board_ideas(api, None, f'last: 2, sort: NEWEST, before: "{before}"', "id")
    assert ids_of(front) == [newer, old[0]]
    assert front["pageInfo"]["hasPreviousPage"] is False
    forward = await board_ideas(api, None, f'first: 10, sort: NEWEST, after: "{front["pageInfo"]["endCursor"]}"', "id")
    assert ids_of(forward) == old[1:]


async def test_top_pages_forward_and_back_while_ideas_land_before_and_after_the_cursor(
    api: Api, ws: Workspace, board: str, services: Services
) -> None:
    a = await upvoted(api, ws, board, "Three ups", 3)
    b = await upvoted(api, ws, board, "Two ups", 2)
    c = await upvoted(api, ws, board, "One up", 1)
    d, e, f = [await idea_id(api, ws.token("alice"), board, f"No votes {n}") for n in range(3)]
    await drain(services)  # scores computed: TOP is a, b, c, then the unvoted newest first
    assert ids_of(await board_ideas(api, None, "sort: TOP", "id")) == [a, b, c, f, e, d]

    first = await board_ideas(api, None, "first: 2, sort: TOP", "id")
    assert ids_of(first) == [a, b]
    ahead_of_all = await upvoted(api, ws, board, "Four ups", 4)  # before the cursor: not seen going forward
    unscored = await idea_id(api, ws.token("alice"), board, "Unscored yet")  # neutral score, after the cursor
    await drain(services)
    walked, after = ids_of(first), first["pageInfo"]["endCursor"]
    while after is not None:
        page = await board_ideas(api, None, f'first: 2, sort: TOP, after: "{after}"', "id")
        assert page["totalCount"] == 8
        walked += ids_of(page)
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    assert walked == [a, b, c, unscored, f, e, d]
    assert ahead_of_all not in walked

    end = await board_ideas(api, None, "last: 5, sort: TOP", "id")
    assert ids_of(end) == [c, unscored, f, e, d]
    behind = await idea_id(api, ws.token("alice"), board, "Behind a backward cursor")  # sorts right after c
    top = await upvoted(api, ws, board, "Five ups", 5)  # ahead of the backward walk
    await drain(services)
    rest = await board_ideas(api, None, f'last: 5, sort: TOP, before: "{end["pageInfo"]["startCursor"]}"', "id")
    assert ids_of(rest) == [top, ahead_of_all, a, b]
    assert rest["pageInfo"]["hasPreviousPage"] is False and rest["pageInfo"]["hasNextPage"] is True
    assert rest["totalCount"] == 10
    assert behind not in ids_of(rest)


async def test_first_with_after_and_before_reads_between_two_cursors(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    old = [await idea_id(api, alice, board, f"Idea number {n}") for n in range(6)][::-1]
    full = await board_ideas(api, None, "first: 6, sort: NEWEST", "id")
    cursors = [e["cursor"] for e in full["edges"]]
    between = await board_ideas(
        api, None, f'first: 10, sort: NEWEST, after: "{cursors[0]}", before: "{cursors[4]}"', "id"
    )
    assert ids_of(between) == old[1:4]
    assert between["pageInfo"]["hasNextPage"] is False


ERRORS = [
    pytest.param("last: 101", ["last"], "`last` must be between 0 and 100.", id="last_over_100"),
    pytest.param("last: -1", ["last"], "`last` must be between 0 and 100.", id="last_negative"),
    pytest.param("first: 2, last: 2", ["last"], "Pass `first` or `last`, not both.", id="first_and_last"),
    pytest.param('before: "bm9wZQ"', ["before"], "`before` is not a cursor of this list", id="bad_before"),
]


@pytest.mark.parametrize(("args", "field", "message"), ERRORS)
async def test_bad_backward_paging_arguments_are_coded_top_level_errors(
    api: Api, ws: Workspace, board: str, args: str, field: list[str], message: str
) -> None:
    body = await api(
        f'{{ board(workspace: "acme", slug: "ideas") {{ ideas({args}) {{ totalCount }} }} }}', expect_errors=True
    )
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "userErrorCode": "INVALID", "field": field}
    assert error["message"].startswith(message)
    assert body["data"] == {"board": None}


async def test_an_explicit_null_first_with_last_is_not_both(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    old = [await idea_id(api, alice, board, f"Idea number {n}") for n in range(3)][::-1]
    body = await api(
        """query($first: Int) { board(workspace: "acme", slug: "ideas") {
        ideas(first: $first, last: 1, sort: NEWEST) { edges { node { id } } } } }""",
        {"first": None},
    )
    assert ids_of(body["data"]["board"]["ideas"]) == old[2:]


@pytest.mark.parametrize(
    ("source", "target"),
    [
        pytest.param("sort: TOP", "sort: NEWEST", id="top_cursor_for_newest"),
        pytest.param("sort: NEWEST", 'sort: NEWEST, tag: "drinks"', id="unfiltered_cursor_for_a_tag"),
        pytest.param('sort: NEWEST, search: "idea"', "sort: NEWEST", id="search_cursor_without_search"),
    ],
)
async def test_a_cursor_only_works_for_its_own_sort_and_filters(
    api: Api, ws: Workspace, board: str, source: str, target: str
) -> None:
    for n in range(3):
        await idea_id(api, ws.token("alice"), board, f"Idea number {n}", tags=["drinks"])
    cursor = (await board_ideas(api, None, f"first: 1, {source}", "id"))["pageInfo"]["endCursor"]
    for argument in ("after", "before"):
        body = await api(
            f"""{{ board(workspace: "acme", slug: "ideas") {{
            ideas(first: 1, {target}, {argument}: "{cursor}") {{ totalCount }} }} }}""",
            expect_errors=True,
        )
        [error] = body["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "userErrorCode": "INVALID", "field": [argument]}
    same = await board_ideas(api, None, f'first: 1, {source}, after: "{cursor}"', "id")
    assert same["totalCount"] == 3


async def test_a_cursor_of_another_list_or_board_is_refused(api: Api, ws: Workspace, board: str) -> None:
    await create_board(api, ws.api_key, slug="other")
    alice = ws.token("alice")
    target = await idea_id(api, alice, board, "Oat milk")
    await api(
        """mutation($i: AddCommentInput!) { addComment(input: $i) { userErrors { code } } }""",
        {"i": {"ideaId": target, "body": "Yes please"}},
        auth=alice,
    )
    comments = await api(
        """query($id: ID!) { idea(id: $id) { comments(first: 1) { pageInfo { endCursor } } } }""", {"id": target}
    )
    comment_cursor = comments["data"]["idea"]["comments"]["pageInfo"]["endCursor"]
    board_cursor = (await board_ideas(api, None, "first: 1, sort: NEWEST", "id"))["pageInfo"]["endCursor"]
    for slug, cursor in (("ideas", comment_cursor), ("other", board_cursor)):
        body = await api(
            f"""{{ board(workspace: "acme", slug: "{slug}") {{
            ideas(sort: NEWEST, after: "{cursor}") {{ totalCount }} }} }}""",
            expect_errors=True,
        )
        assert body["errors"][0]["extensions"]["field"] == ["after"], slug


async def test_nested_lists_of_several_parents_page_each_parent_alone(api: Api, ws: Workspace) -> None:
    """Boards' ideas and ideas' comments are read for all parents at once; each page is still its own."""
    alice = ws.token("alice")
    boards = [await create_board(api, ws.api_key, slug=slug) for slug in ("one", "two", "three")]
    titles: dict[str, list[str]] = {}
    for n, board_id in enumerate(boards):
        titles[board_id] = [f"Board {n} idea {k}" for k in range(n * 2)]
        for title in titles[board_id]:
            target = await idea_id(api, alice, board_id, title)
            for c in range(n):
                await api(
                    """mutation($i: AddCommentInput!) { addComment(input: $i) { userErrors { code } } }""",
                    {"i": {"ideaId": target, "body": f"Comment {c}"}},
                    auth=alice,
                )
    body = await api(
        """{ boards(workspace: "acme") { edges { node { slug ideas(first: 3, sort: NEWEST) {
        totalCount pageInfo { hasNextPage } edges { node { title
        comments(last: 1) { totalCount pageInfo { hasPreviousPage } edges { node { body } } } } } } } } } }"""
    )
    got = [e["node"] for e in body["data"]["boards"]["edges"]]
    assert [g["slug"] for g in got] == ["one", "two", "three"]
    assert [g["ideas"]["totalCount"] for g in got] == [0, 2, 4]
    assert [g["ideas"]["pageInfo"]["hasNextPage"] for g in got] == [False, False, True]
    assert [[i["node"]["title"] for i in g["ideas"]["edges"]] for g in got] == [
        [],
        ["Board 1 idea 1", "Board 1 idea 0"],
        ["Board 2 idea 3", "Board 2 idea 2", "Board 2 idea 1"],
    ]
    two, three = got[1]["ideas"]["edges"][0]["node"], got[2]["ideas"]["edges"][0]["node"]
    assert two["comments"] == {
        "totalCount": 1,
        "pageInfo": {"hasPreviousPage": False},
        "edges": [{"node": {"body": "Comment 0"}}],
    }
    assert three["comments"] == {
        "totalCount": 2,
        "pageInfo": {"hasPreviousPage": True},
        "edges": [{"node": {"body": "Comment 1"}}],
    }


@pytest.mark.parametrize("key", [2**31, 2**70, -(2**63) - 1], ids=["past_32_bits", "past_64_bits", "below_64_bits"])
@pytest.mark.parametrize("sort", ["NEWEST", "MOST_VOTES"])
async def test_a_cursor_with_a_key_out_of_range_is_refused_not_a_crash(
    api: Api, ws: Workspace, board: str, sort: str, key: int
) -> None:
    """Found by tests/api/test_hostile_input.py: a cursor of this very list whose integer key no row can have
    answered "Unexpected error." (SQLite cannot bind past 64 bits, PostgreSQL compares no int4 past 32)."""
    from ideaengine.platform import ids

    await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    cursor = (await board_ideas(api, None, f"first: 1, sort: {sort}", "id"))["pageInfo"]["endCursor"]
    binding, *keys = json.loads(ids.decode_text(cursor) or "")
    assert isinstance(keys[-1], int)  # the row's id, last in every order
    forged = ids.encode_text(json.dumps([binding, *keys[:-1], key]))
    body = await api(
        f'{{ board(workspace: "acme", slug: "ideas") {{ ideas(sort: {sort}, after: "{forged}") {{ totalCount }} }} }}',
        expect_errors=True,
    )
    assert body["data"] == {"board": None}
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "userErrorCode": "INVALID", "field": ["after"]}
