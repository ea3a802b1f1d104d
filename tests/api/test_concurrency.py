"""Writes racing each other: opposite merges, merges against votes and score refreshes. Nothing may fail
with an unexpected error (a deadlock answers "Unexpected error."), and tallies stay exact."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, idea, idea_id, vote

pytestmark = pytest.mark.usefixtures("pool_filling")

MERGE = """mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) {
    target { id votes { up down } } userErrors { code field } } }"""
ROUNDS = 20


@pytest.fixture
async def board(api: Api, ws: Workspace) -> str:
    return await create_board(api, ws.api_key)


async def merge(api: Api, auth: str, source: str, target: str) -> dict[str, Any]:
    body = await api(MERGE, {"i": {"sourceId": source, "targetId": target}}, auth=auth)
    return body["data"]["mergeIdeas"]  # type: ignore[no-any-return]


async def test_opposite_merges_at_once_merge_one_way_and_refuse_the_other(api: Api, ws: Workspace, board: str) -> None:
    alice, bob, carol, dan = (ws.token(n) for n in ("alice", "bob", "carol", "dan"))
    moderator = ws.token("mia", role="moderator")
    for n in range(ROUNDS):
        a = await idea_id(api, alice, board, f"Oat milk in every store, take {n}")
        b = await idea_id(api, alice, board, f"Please stock oat milk everywhere, take {n}")
        await vote(api, bob, a, "UP")
        await vote(api, carol, a, "DOWN")
        await vote(api, dan, a, "UP")  # dan voted on both: the target's vote wins
        await vote(api, dan, b, "DOWN")
        a_into_b, b_into_a = await asyncio.gather(merge(api, ws.api_key, a, b), merge(api, moderator, b, a))
        if a_into_b["userErrors"] == []:
            won, lost, survivor = a_into_b, b_into_a, b
            tally = {"up": 1, "down": 2}  # bob UP and carol DOWN moved; dan's DOWN on b stays
        else:
            won, lost, survivor = b_into_a, a_into_b, a
            tally = {"up": 2, "down": 1}  # dan's DOWN on b is dropped: his UP on a stays
        assert won == {"target": {"id": survivor, "votes": tally}, "userErrors": []}, n
        assert lost == {"target": None, "userErrors": [{"code": "INVALID", "field": ["input", "targetId"]}]}, n
        assert await idea(api, None, survivor, "status votes { up down }") == {"status": "SUBMITTED", "votes": tally}


async def test_merges_racing_votes_and_score_refreshes_keep_tallies_exact(
    api: Api, ws: Workspace, board: str, services: Any
) -> None:
    from ideaengine.platform.jobs import run_job
    from schema.relay import parse_id

    pairs = [
        (
            await idea_id(api, ws.token("alice"), board, f"Source idea {n}"),
            await idea_id(api, ws.token("alice"), board, f"Target idea {n}"),
        )
        for n in range(3)
    ]
    racers = [ws.token(f"racer{n}") for n in range(10)]
    early = [ws.token(f"early{n}") for n in range(4)]
    for source, _ in pairs:  # racers 0-5 and the early voters vote DOWN on every source before the race
        for token in [*racers[:6], *early]:
            await vote(api, token, source, "DOWN")
    parsed = parse_id(board)
    assert parsed is not None
    board_pk = parsed[1]

    async def racer(token: str, target: str) -> None:
        for value in ("UP", "DOWN", "UP"):  # one voter's votes in order: the last one stands
            assert (await vote(api, token, target, value))["userErrors"] == []

    async def refresh() -> None:
        for _ in range(5):
            await asyncio.to_thread(run_job, "workers.scores.refresh_board", (board_pk,), None, services.settings)

    merges = [merge(api, ws.api_key, source, target) for source, target in pairs]
    racing = [racer(token, target) for token in racers for _, target in pairs]
    merged, _ = await asyncio.gather(asyncio.gather(*merges), asyncio.gather(*racing, refresh(), refresh()))
    assert [m["userErrors"] for m in merged] == [[], [], []]
    await services.queue.drain()
    for source, target in pairs:
        # The racers' last votes are UP wherever their DOWN on the source went; the early DOWNs moved over.
        assert await idea(api, None, target, "votes { up down }") == {"votes": {"up": 10, "down": 4}}
        assert await idea(api, None, source, "status votes { up down }") == {
            "status": "MERGED",
            "votes": {"up": 0, "down": 0},
        }
    await asyncio.to_thread(run_job, "workers.scores.refresh_board", (board_pk,), None, services.settings)
    assert [await idea(api, None, target, "score { stale }") for _, target in pairs] == [
        {"score": {"stale": False}}
    ] * len(pairs)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # SQLite has no server to close them
async def test_connections_the_server_closed_are_replaced_without_failing_a_request(
    api: Api, ws: Workspace, board: str, services: Any
) -> None:
    from sqlalchemy import text

    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    voters = [ws.token(f"voter{n}") for n in range(8)]
    await asyncio.gather(*(vote(api, token, target, "UP") for token in voters))  # several pooled connections
    async with services.db.read() as session:  # as a restart does: the server ends every other connection
        await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    await asyncio.sleep(0.5)
    answers = await asyncio.gather(*(vote(api, token, target, "DOWN") for token in voters))
    assert [a["userErrors"] for a in answers] == [[]] * len(voters)
    assert await idea(api, None, target, "votes { up down }") == {"votes": {"up": 0, "down": 8}}
