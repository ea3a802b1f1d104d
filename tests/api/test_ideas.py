"""Submitting, editing, listing, searching and paging ideas."""

from __future__ import annotations

from typing import Any

import pytest

from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import (
    board_ideas,
    board_of_reports_and_theme,
    change_status,
    create_board,
    idea,
    idea_id,
    similar_titles,
    submit,
    vote,
)
from tests.conftest import in_process


@pytest.fixture
async def board(api: Api, ws: Workspace) -> str:
    return await create_board(api, ws.api_key)


async def test_submit_trims_and_normalises(api: Api, ws: Workspace, board: str) -> None:
    payload = await submit(
        api, ws.token("alice"), board, "  Oat milk in every store  ", "More choice\n", ["Drinks", " drinks ", "VEGAN"]
    )
    assert payload["idea"]["title"] == "Oat milk in every store"
    assert payload["idea"]["body"] == "More choice"
    assert payload["idea"]["tags"] == ["drinks", "vegan"]
    assert payload["idea"]["status"] == "SUBMITTED"
    assert payload["idea"]["followerCount"] == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param({"title": "  ab "}, "title", "A title must be at least 3 characters.", id="title_too_short"),
        pytest.param({"title": "x" * 201}, "title", "A title must be at most 200 characters.", id="title_too_long"),
        pytest.param({"body": "x" * 10_001}, "body", "A body must be at most 10,000 characters.", id="body_too_long"),
        pytest.param({"tags": [f"t{n}" for n in range(11)]}, "tags", "An idea has at most 10 tags.", id="eleven_tags"),
        pytest.param({"tags": ["x" * 41]}, "tags", "A tag must be at most 40 characters.", id="tag_too_long"),
        pytest.param({"tags": ["  "]}, "tags", "A tag must not be empty.", id="empty_tag"),
        pytest.param({"boardId": "nonsense"}, "boardId", "Not a valid Board id.", id="malformed_board_id"),
        pytest.param(
            {"title": "\u200b\u200b\u200b"}, "title", "A title must contain visible characters.", id="invisible_title"
        ),
        pytest.param(
            {"title": "Cheaper \u202eettal"},
            "title",
            "A title contains text-direction control characters.",
            id="bidi_override_in_title",
        ),
        pytest.param(
            {"tags": [f"t{n}" for n in range(1_000)]},
            "tags",
            "An idea has at most 10 tags.",
            id="a_thousand_tags",
        ),
    ],
)
async def test_invalid_submissions_name_the_field_and_write_nothing(
    api: Api, ws: Workspace, board: str, overrides: dict[str, Any], field: str, message: str
) -> None:
    values = {"boardId": board, "title": "Oat milk in every store", "body": "", "tags": []} | overrides
    body = await api(
        """mutation($i: SubmitIdeaInput!) { submitIdea(input: $i) {
        idea { id } userErrors { code field message } } }""",
        {"i": values},
        auth=ws.token("alice"),
    )
    assert body["data"]["submitIdea"] == {
        "idea": None,
        "userErrors": [{"code": "INVALID", "field": ["input", field], "message": message}],
    }
    assert (await board_ideas(api, None, "first: 5"))["totalCount"] == 0


async def test_edit_by_author_changes_only_what_is_given(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    target = await idea_id(api, alice, board, "Oat milk", body="Please", tags=["drinks"])
    query = """mutation($i: EditIdeaInput!) { editIdea(input: $i) { idea { title body tags } userErrors { code } } }"""
    body = await api(query, {"i": {"ideaId": target, "title": "Oat milk everywhere"}}, auth=alice)
    assert body["data"]["editIdea"] == {
        "idea": {"title": "Oat milk everywhere", "body": "Please", "tags": ["drinks"]},
        "userErrors": [],
    }
    body = await api(query, {"i": {"ideaId": target, "title": None, "tags": []}}, auth=alice)
    assert body["data"]["editIdea"]["idea"] == {"title": "Oat milk everywhere", "body": "Please", "tags": []}


async def test_ideas_sorted_by_each_order_with_ties_newest_first(
    api: Api, ws: Workspace, board: str, services: Services
) -> None:
    alice = ws.token("alice")
    ids = [await idea_id(api, alice, board, f"Idea number {n}") for n in range(4)]
    await vote(api, ws.token("bob"), ids[1], "UP")
    await vote(api, ws.token("carol"), ids[1], "UP")
    await vote(api, ws.token("bob"), ids[2], "UP")
    newest = await board_ideas(api, None, "sort: NEWEST", "id")
    assert [e["node"]["id"] for e in newest["edges"]] == ids[::-1]
    most = await board_ideas(api, None, "sort: MOST_VOTES", "id")
    assert [e["node"]["id"] for e in most["edges"]] == [ids[1], ids[2], ids[3], ids[0]]
    await in_process(services).drain()  # the in-process runner computes the scores
    for sort in ("TOP", "TRENDING"):
        listed = await board_ideas(api, None, f"sort: {sort}", "id")
        assert [e["node"]["id"] for e in listed["edges"]] == [ids[1], ids[2], ids[3], ids[0]], sort
    for sort in ("PAIRWISE", "ELO"):  # no comparisons: all tie, newest first
        listed = await board_ideas(api, None, f"sort: {sort}", "id")
        assert [e["node"]["id"] for e in listed["edges"]] == ids[::-1], sort


async def test_most_votes_counts_up_votes_and_ignores_down_votes(api: Api, ws: Workspace, board: str) -> None:
    """MOST_VOTES is the raw up-vote count (the contract's meaning): a disliked idea with more up votes leads."""
    alice = ws.token("alice")
    loved, disputed = [await idea_id(api, alice, board, t) for t in ("Oat milk", "Louder music")]
    await vote(api, ws.token("bob"), loved, "UP")
    for voter in ("bob", "carol"):
        await vote(api, ws.token(voter), disputed, "UP")
    for voter in ("dan", "erin", "fay"):
        await vote(api, ws.token(voter), disputed, "DOWN")
    most = await board_ideas(api, None, "sort: MOST_VOTES", "title votes { up down }")
    assert [e["node"] for e in most["edges"]] == [
        {"title": "Louder music", "votes": {"up": 2, "down": 3}},
        {"title": "Oat milk", "votes": {"up": 1, "down": 0}},
    ]


SIMILAR = "similar(first: 2) { idea { title status } }"


async def test_similar_offers_only_open_ideas_even_when_closed_ones_are_closer(
    api: Api, ws: Workspace, board: str, services: Services
) -> None:
    """`Idea.similar` is "open ideas": launched, declined and merged ones never take a place, and the places
    they would have taken go to the next open ideas (the draft lookup, `similarIdeas`, still shows them)."""
    alice, mod = ws.token("alice"), ws.token("mia", role="moderator")
    target = await idea_id(api, alice, board, "Oat milk in every store")
    steps = {
        "Oat milk in every store please": ["UNDER_REVIEW", "PLANNED", "IN_PROGRESS", "LAUNCHED"],
        "Oat milk in every single store": ["DECLINED"],
        "Oat milk at every store": ["UNDER_REVIEW"],
        "More oat milk": [],
    }
    ids = {title: await idea_id(api, alice, board, title) for title in steps}
    for title, path in steps.items():
        for status in path:
            assert (await change_status(api, mod, ids[title], status))["userErrors"] == []
    merged = await idea_id(api, alice, board, "Oat milk in every store!")
    merge = """mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) { userErrors { code } } }"""
    assert (await api(merge, {"i": {"sourceId": merged, "targetId": target}}, auth=mod))["data"]["mergeIdeas"] == {
        "userErrors": []
    }
    await idea_id(api, alice, board, "Dark mode for the app")
    await in_process(services).drain()  # the board's index holds every unmerged idea, closed ones included

    found = (await idea(api, None, target, SIMILAR))["similar"]

    assert sorted((f["idea"]["title"], f["idea"]["status"]) for f in found) == [
        ("More oat milk", "SUBMITTED"),
        ("Oat milk at every store", "UNDER_REVIEW"),
    ]
    draft = await api(
        """query($b: ID!) { similarIdeas(boardId: $b, text: "Oat milk in every store", first: 5) {
        idea { title } } }""",
        {"b": board},
    )
    titles = {f["idea"]["title"] for f in draft["data"]["similarIdeas"]}
    assert {"Oat milk in every store please", "Oat milk in every single store"} <= titles
    assert "Oat milk in every store!" not in titles


async def test_paging_visits_every_idea_once_under_every_sort(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    ids = {await idea_id(api, alice, board, f"Idea number {n}") for n in range(7)}
    for sort in ("TOP", "TRENDING", "PAIRWISE", "ELO", "MOST_VOTES", "NEWEST"):
        seen, after, pages = [], None, 0
        while True:
            cursor = f', after: "{after}"' if after else ""
            page = await board_ideas(api, None, f"first: 3, sort: {sort}{cursor}", "id")
            seen += [e["node"]["id"] for e in page["edges"]]
            pages += 1
            assert page["totalCount"] == 7
            assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert pages == 3
        assert sorted(seen) == sorted(ids) and len(seen) == 7, sort


@pytest.mark.parametrize(
    ("args", "field", "fragment"),
    [
        pytest.param("first: 101", ["first"], "between 0 and 100", id="first_over_100"),
        pytest.param("first: -1", ["first"], "between 0 and 100", id="first_negative"),
        pytest.param('after: "not-a-cursor"', ["after"], "not a cursor", id="bad_cursor"),
    ],
)
async def test_bad_paging_arguments_are_coded_top_level_errors(
    api: Api, ws: Workspace, board: str, args: str, field: list[str], fragment: str
) -> None:
    body = await api(
        f'{{ board(workspace: "acme", slug: "ideas") {{ ideas({args}) {{ totalCount }} }} }}', expect_errors=True
    )
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "userErrorCode": "INVALID", "field": field}
    assert fragment in error["message"]


async def test_without_statuses_every_status_but_merged_is_listed(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    a = await idea_id(api, alice, board, "Oat milk in every store")
    b = await idea_id(api, alice, board, "Please stock oat milk at all locations")
    c = await idea_id(api, alice, board, "Longer opening hours")
    await change_status(api, ws.api_key, c, "DECLINED")
    await api(
        """mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) { userErrors { code } } }""",
        {"i": {"sourceId": b, "targetId": a}},
        auth=ws.api_key,
    )
    default = await board_ideas(api, None, "sort: NEWEST", "title status")
    assert [(e["node"]["title"], e["node"]["status"]) for e in default["edges"]] == [
        ("Longer opening hours", "DECLINED"),
        ("Oat milk in every store", "SUBMITTED"),
    ]
    merged = await board_ideas(api, None, "statuses: [MERGED]", "title")
    assert [e["node"]["title"] for e in merged["edges"]] == ["Please stock oat milk at all locations"]


async def test_search_is_case_insensitive_beyond_ascii_on_title_and_body(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    await submit(api, alice, board, "CRÈME BRÛLÉE latte", "seasonal")
    await submit(api, alice, board, "Straßenfest stand", "Ein STRASSE? no: Straße")
    await submit(api, alice, board, "Oat milk", "100% plant_based")
    for term, expected in [
        ("crème", ["CRÈME BRÛLÉE latte"]),
        ("brûlée LATTE", ["CRÈME BRÛLÉE latte"]),
        ("SEASONAL", ["CRÈME BRÛLÉE latte"]),
        ("straße", ["Straßenfest stand"]),
        ("100%", ["Oat milk"]),
        ("plant_b", ["Oat milk"]),
        ("_", ["Oat milk"]),
        ("%", ["Oat milk"]),
        ("nothing-like-this", []),
    ]:
        found = await board_ideas(api, None, f'search: "{term}"')
        assert sorted(e["node"]["title"] for e in found["edges"]) == expected, term


async def test_tag_filter_and_board_tags_most_used_first(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    await submit(api, alice, board, "Oat milk", tags=["drinks", "vegan"])
    await submit(api, alice, board, "Iced tea", tags=["drinks"])
    await submit(api, alice, board, "Vegan cake", tags=["food", "vegan"])
    await submit(api, alice, board, "Cold brew", tags=["drinks"])
    found = await board_ideas(api, None, 'tag: "Drinks", sort: NEWEST')
    assert [e["node"]["title"] for e in found["edges"]] == ["Cold brew", "Iced tea", "Oat milk"]
    body = await api('{ board(workspace: "acme", slug: "ideas") { tags } }')
    assert body["data"]["board"]["tags"] == ["drinks", "vegan", "food"]


async def test_node_resolves_every_type_and_null_for_unknown(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    target = await idea_id(api, alice, board, "Oat milk")
    body = await api(
        """query($b: ID!, $i: ID!) { b: node(id: $b) { __typename id ... on Board { slug } }
        i: node(id: $i) { __typename ... on Idea { title author { id name } } }
        x: node(id: "bm9wZQ") { id } }""",
        {"b": board, "i": target},
        auth=alice,
    )
    data = body["data"]
    assert data["b"] == {"__typename": "Board", "id": board, "slug": "ideas"}
    assert data["i"]["__typename"] == "Idea" and data["i"]["title"] == "Oat milk"
    author = await api(
        "query($u: ID!) { node(id: $u) { __typename ... on User { name externalId } } }",
        {"u": data["i"]["author"]["id"]},
        auth=alice,
    )
    assert author["data"]["node"] == {"__typename": "User", "name": "Alice", "externalId": "alice"}
    assert data["x"] is None


async def test_idea_score_is_stale_until_computed(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk")
    score = (await idea(api, None, target, "score { rank computedAt stale wilsonLowerBound elo }"))["score"]
    assert score == {"rank": None, "computedAt": None, "stale": True, "wilsonLowerBound": 0.0, "elo": 1500.0}


async def test_a_lone_surrogate_in_a_document_is_a_syntax_error(api: Api, ws: Workspace, board: str) -> None:
    """No request can carry one into a title: JSON bodies refuse it (a 400), and so does GraphQL's own syntax."""
    body = await api(
        f'mutation {{ submitIdea(input: {{boardId: "{board}", title: "Oat \\ud800 milk"}}) {{ idea {{ id }} }} }}',
        auth=ws.token("alice"),
        expect_errors=True,
    )
    assert body["data"] is None
    assert body["errors"][0]["message"] == "Syntax Error: Invalid Unicode escape sequence: '\\ud800'."


async def test_a_process_keeps_one_build_of_a_boards_duplicate_index(
    api: Api, ws: Workspace, board: str, services: Any
) -> None:
    """Every submission rebuilds the board's index: superseded builds are let go, not kept 64 deep (each one of a
    board of long ideas held tens of MB: a few dozen submissions grew a server by gigabytes)."""
    from collections import Counter

    from ideaengine import duplicates
    from tests.api.ops import drain, pk

    for n in range(4):
        await submit(api, ws.token("alice"), board, f"Oat milk in every store {n}", body=f"Version {n} " * 50)
        await drain(services)  # the index is rebuilt; the next submission reads (and caches) the new build
    builds = Counter(key[0] for key in duplicates._cache if key[1] == pk(board))  # per database
    assert set(builds.values()) == {1}, duplicates._cache.keys()


@pytest.mark.usefixtures("semantic")
async def test_a_draft_is_embedded_while_the_boards_index_is_read(
    api: Api, ws: Workspace, services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A draft's embedding starts before "did you mean" reads the board's visibility and index, which the
    embedding does not need, so they overlap (milliseconds each on a 10,000-idea board). Here both reads wait
    until the draft is being embedded, which would never happen if the embedding came after them."""
    import asyncio
    import threading
    from collections import OrderedDict

    from ideaengine import boards, duplicates
    from ideaengine.platform import embeddings

    board = await board_of_reports_and_theme(api, ws, services)  # its index, with embeddings
    embedding = threading.Event()
    embed, stored, visible = embeddings.embed, duplicates._stored, boards.require_visible

    def embedding_now(texts: Any) -> Any:
        embedding.set()
        return embed(texts)

    async def stored_once_embedding(*args: Any) -> Any:
        assert await asyncio.to_thread(embedding.wait, 10), "the index was read before the draft's embedding began"
        return await stored(*args)

    async def visible_once_embedding(*args: Any) -> Any:
        assert await asyncio.to_thread(embedding.wait, 10), "the board was read before the draft's embedding began"
        return await visible(*args)

    monkeypatch.setattr(embeddings, "embed", embedding_now)
    monkeypatch.setattr(duplicates, "_stored", stored_once_embedding)
    monkeypatch.setattr(boards, "require_visible", visible_once_embedding)
    monkeypatch.setattr(duplicates, "_vector_cache", OrderedDict())  # the draft is embedded, not remembered
    assert (await similar_titles(api, board, "Download my reports as a spreadsheet file"))[:1] == [
        "Export reports to CSV"
    ]


async def test_a_draft_on_a_board_without_ideas_finds_nothing_and_leaves_no_work_behind(
    api: Api, board: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No index and no ideas, or no such board: the embedding started for the draft is not waited for, and is
    let go quietly."""
    import gc

    from ideaengine.platform.ids import global_id

    for _ in range(3):
        assert await similar_titles(api, board, "A first idea for an empty board") == []
        refused = await api(
            'query($b: ID!) { similarIdeas(boardId: $b, text: "A draft for no board") { idea { id } } }',
            {"b": global_id("Board", 999_999)},
            expect_errors=True,
        )
        assert [e["extensions"]["userErrorCode"] for e in refused["errors"]] == ["NOT_FOUND"], refused
    gc.collect()
    assert not [r for r in caplog.records if "Task" in r.getMessage()], caplog.text
