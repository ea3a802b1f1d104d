"""Voting: one vote per user per idea, exact tallies, and the rules on closed ideas."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.conftest import Api, Workspace
from tests.api.ops import change_status, create_board, idea, idea_id, pk, vote


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


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_vote_waiting_for_the_idea_lock_counts_from_the_vote_written_under_it(
    api: Api, ws: Workspace, board: str, database_url: str
) -> None:
    """DECISIONS.md 8 for the vote run in one round trip (`driver.AfterLock`): while another write holds the
    idea's lock and records bob's UP vote, bob's DOWN vote waits, then reads that vote as the one it replaces.
    Read before the lock, it would find none and count both."""
    import asyncpg

    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    bob = ws.token("bob")
    other = await idea_id(api, ws.token("alice"), board, "Soy milk too")
    await vote(api, bob, other, "UP")  # bob exists from here on
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        user = await conn.fetchval("SELECT user_id FROM votes WHERE idea_id = $1", pk(other))
        writer = conn.transaction()
        await writer.start()
        await conn.execute("SELECT 1 FROM ideas WHERE id = $1 FOR NO KEY UPDATE", pk(target))
        await conn.execute(
            "INSERT INTO votes (idea_id, user_id, value, created_at, updated_at) VALUES ($1, $2, 1, now(), now())",
            pk(target),
            user,
        )
        await conn.execute("UPDATE ideas SET up_count = up_count + 1 WHERE id = $1", pk(target))
        switching = asyncio.create_task(vote(api, bob, target, "DOWN"))
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%ideaengine_vote%'"
        )
        for _ in range(500):  # until the vote waits for the lock (10 s at most)
            if await conn.fetchval(waiting) or switching.done():
                break
            await asyncio.sleep(0.02)
        assert not switching.done(), await switching
        await writer.commit()
        switched = await switching
    finally:
        await conn.close()
    assert switched["userErrors"] == []
    assert switched["idea"]["votes"] == {"up": 0, "down": 1}
    assert (await idea(api, None, target))["votes"] == {"up": 0, "down": 1}


async def test_the_sql_form_of_an_open_idea_agrees_with_the_check(
    api: Api, services: Any, ws: Workspace, board: str
) -> None:
    """`models.open_idea_clause` decides where a vote run as one statement writes; `ideas.require_open` says why the
    longer way refuses. Were the SQL looser, a vote the check refuses would be written."""
    from sqlalchemy import exists, select, update

    from ideaengine import ideas
    from ideaengine.errors import DomainError
    from ideaengine.platform.models import Idea, IdeaStatus, ModerationState, open_idea_clause

    target = pk(await idea_id(api, ws.token("alice"), board, "Oat milk in every store"))
    for status in IdeaStatus:
        for state in ModerationState:
            async with services.db.write() as session:
                await session.execute(
                    update(Idea).where(Idea.id == target).values(status=status, moderation_state=state)
                )
            async with services.db.write() as session:
                in_sql = await session.scalar(select(exists().where(Idea.id == target, open_idea_clause())))
                try:
                    ideas.require_open(Idea(status=status, moderation_state=state))
                    in_python = True
                except DomainError:
                    in_python = False
            assert in_sql == in_python, (status, state)
