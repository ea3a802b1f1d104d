"""Pairwise comparisons and matchups."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import change_status, compare, create_board, idea_id, submit

MATCHUP = "query($b: ID!) { pairwiseMatchup(boardId: $b) { left { id status } right { id status } } }"


@pytest.fixture
async def board(api: Api, ws: Workspace) -> str:
    return await create_board(api, ws.api_key)


async def test_compare_records_one_verdict_and_offers_the_next_pair(
    api: Api, ws: Workspace, board: str, services: Services
) -> None:
    from ideaengine.platform.models import Comparison

    alice, bob = ws.token("alice"), ws.token("bob")
    a = await idea_id(api, alice, board, "Oat milk in every store")
    b = await idea_id(api, alice, board, "Longer opening hours")
    c = await idea_id(api, alice, board, "Loyalty card app")
    payload = await compare(api, bob, a, b)
    assert payload["userErrors"] == [] and payload["winner"] == {"id": a} and payload["loser"] == {"id": b}
    assert payload["next"]["left"]["id"] != payload["next"]["right"]["id"]
    assert {payload["next"]["left"]["id"], payload["next"]["right"]["id"]} <= {a, b, c}
    await compare(api, bob, b, a)  # bob changes his mind: the verdict is replaced, not added
    async with services.db.read() as session:
        rows = (await session.execute(select(Comparison.winner_id, Comparison.loser_id))).all()
    assert len(rows) == 1
    from tests.api.ops import pk

    assert rows[0] == (pk(b), pk(a))


@pytest.mark.parametrize("case", ["itself", "other_board", "closed_winner", "closed_loser", "merged"])
async def test_invalid_comparisons_are_user_errors(
    api: Api, ws: Workspace, board: str, case: str, services: Services
) -> None:
    from sqlalchemy import func

    from ideaengine.platform.models import Comparison

    alice = ws.token("alice")
    a = await idea_id(api, alice, board, "Oat milk in every store")
    b = await idea_id(api, alice, board, "Longer opening hours")
    winner, loser, field = a, b, "loserId"
    if case == "itself":
        loser = a
    elif case == "other_board":
        other = await create_board(api, ws.api_key, slug="other")
        loser = (await submit(api, alice, other, "Elsewhere"))["idea"]["id"]
    elif case == "closed_winner":
        await change_status(api, ws.api_key, a, "DECLINED")
        field = "winnerId"
    elif case == "closed_loser":
        await change_status(api, ws.api_key, b, "DECLINED")
    else:
        c = await idea_id(api, alice, board, "Oat milk at all locations")
        await api(
            "mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) { userErrors { code } } }",
            {"i": {"sourceId": b, "targetId": c}},
            auth=ws.api_key,
        )
    payload = await compare(api, ws.token("bob"), winner, loser)
    assert payload["winner"] is None and payload["next"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID", ["input", field])]
    async with services.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(Comparison))).scalar_one() == 0


async def test_matchup_never_offers_closed_ideas_and_is_null_below_two(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    a = await idea_id(api, alice, board, "Oat milk in every store")
    assert (await api(MATCHUP, {"b": board}))["data"]["pairwiseMatchup"] is None
    b = await idea_id(api, alice, board, "Longer opening hours")
    c = await idea_id(api, alice, board, "Loyalty card app")
    d = await idea_id(api, alice, board, "Recyclable cups")
    await change_status(api, ws.api_key, c, "DECLINED")
    for step in ("UNDER_REVIEW", "PLANNED", "IN_PROGRESS", "LAUNCHED"):
        await change_status(api, ws.api_key, d, step)
    for _ in range(15):
        pair = (await api(MATCHUP, {"b": board}, auth=ws.token("bob")))["data"]["pairwiseMatchup"]
        assert {pair["left"]["id"], pair["right"]["id"]} == {a, b}
    await change_status(api, ws.api_key, b, "DECLINED")
    assert (await api(MATCHUP, {"b": board}))["data"]["pairwiseMatchup"] is None


async def test_matchup_of_a_private_board_is_null_for_outsiders(api: Api, ws: Workspace, other_ws: Workspace) -> None:
    board = await create_board(api, ws.api_key, slug="secret", visibility="PRIVATE")
    alice = ws.token("alice")
    await idea_id(api, alice, board, "Oat milk in every store")
    await idea_id(api, alice, board, "Longer opening hours")
    assert (await api(MATCHUP, {"b": board}, auth=alice))["data"]["pairwiseMatchup"] is not None
    assert (await api(MATCHUP, {"b": board}))["data"]["pairwiseMatchup"] is None
    assert (await api(MATCHUP, {"b": board}, auth=other_ws.token("eve")))["data"]["pairwiseMatchup"] is None


async def test_matchup_with_an_idea_id_is_bad_user_input(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    body = await api(MATCHUP, {"b": target}, expect_errors=True)
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "userErrorCode": "INVALID",
        "field": ["boardId"],
    }
