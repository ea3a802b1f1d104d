"""Voting: one vote per user per idea, exact tallies, and the rules on closed ideas."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import Api, Workspace
from tests.api.ops import change_status, create_board, idea, idea_id, vote


@pytest.fixture
async def board(api: Api, ws: Workspace) -> str:
    return await create_board(api, ws.api_key)


async def test_upvote_counts_at_once_and_shows_as_viewer_vote(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    target = await idea_id(api, alice, board, "Oat milk in every store")
    payload = await vote(api, ws.token("bob"), target, "UP")
    assert payload == {"idea": {"id": target, "votes": {"up": 1, "down": 0}, "viewerVote": "UP"}, "userErrors": []}


async def test_second_vote_by_same_user_replaces_the_first(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    bob = ws.token("bob")
    await vote(api, bob, target, "UP")
    await vote(api, bob, target, "UP")
    assert (await vote(api, bob, target, "DOWN"))["idea"]["votes"] == {"up": 0, "down": 1}


async def test_null_withdraws_the_vote(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    bob = ws.token("bob")
    await vote(api, bob, target, "DOWN")
    payload = await vote(api, bob, target, None)
    assert payload["idea"] == {"id": target, "votes": {"up": 0, "down": 0}, "viewerVote": None}
    assert (await vote(api, bob, target, None))["idea"]["votes"] == {"up": 0, "down": 0}


async def test_votes_of_many_users_add_up(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    for n in range(5):
        await vote(api, ws.token(f"u{n}"), target, "UP")
    await vote(api, ws.token("grump"), target, "DOWN")
    assert (await idea(api, None, target))["votes"] == {"up": 5, "down": 1}


@pytest.mark.parametrize("status", ["LAUNCHED", "DECLINED"])
async def test_vote_on_a_closed_idea_is_invalid_and_changes_nothing(
    api: Api, ws: Workspace, board: str, status: str
) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    path = ["UNDER_REVIEW", "PLANNED", "IN_PROGRESS", "LAUNCHED"] if status == "LAUNCHED" else ["DECLINED"]
    for step in path:
        assert (await change_status(api, ws.api_key, target, step))["userErrors"] == []
    payload = await vote(api, ws.token("bob"), target, "UP")
    assert payload["idea"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID", ["input", "ideaId"])]
    assert (await idea(api, None, target))["votes"] == {"up": 0, "down": 0}


async def test_vote_with_a_board_id_is_invalid(api: Api, ws: Workspace, board: str) -> None:
    payload = await vote(api, ws.token("bob"), board, "UP")
    assert payload == {
        "idea": None,
        "userErrors": [{"code": "INVALID", "field": ["input", "ideaId"], "message": "Not a valid Idea id."}],
    }


async def test_vote_on_unknown_idea_is_not_found(api: Api, ws: Workspace, board: str) -> None:
    from schema.relay import encode_id

    payload = await vote(api, ws.token("bob"), encode_id("Idea", 999999), "UP")
    assert payload == {
        "idea": None,
        "userErrors": [{"code": "NOT_FOUND", "field": ["input", "ideaId"], "message": "No such idea."}],
    }


async def test_concurrent_identical_votes_by_many_users_count_once_each(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    voters = [ws.token(f"voter{n}") for n in range(12)]
    await asyncio.gather(*(vote(api, token, target, "UP") for token in voters for _ in range(3)))
    assert (await idea(api, None, target))["votes"] == {"up": 12, "down": 0}


async def test_concurrent_switches_keep_the_tally_exact(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    voters = [ws.token(f"voter{n}") for n in range(8)]
    await asyncio.gather(*(vote(api, t, target, v) for t in voters for v in ("UP", "DOWN", "UP")))
    tally = (await idea(api, None, target))["votes"]
    final = [(await idea(api, t, target, "viewerVote"))["viewerVote"] for t in voters]
    assert tally == {"up": final.count("UP"), "down": final.count("DOWN")}
    assert tally["up"] + tally["down"] == 8
