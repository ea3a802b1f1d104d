"""Group commit (`driver.Group`): on PostgreSQL, votes that arrive while others are being written go together in
one transaction. The tallies stay exact, every lock is taken in one order across transactions (no deadlock, so
no transaction fails), a failed transaction leaves each vote to run again alone, and a vote cancelled while it
waits is never written."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from ideaengine import boards, votes
from ideaengine.platform import driver
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, idea, idea_id, pk, vote

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


async def _ideas_sharing_shards(api: Api, ws: Workspace) -> list[str]:
    """Ideas on two boards, each board holding ideas of every score-sequence shard: a transaction of votes on
    both boards bumps shards of both, so a transaction taking them in any order but one could deadlock."""
    first = await create_board(api, ws.api_key, "first")
    second = await create_board(api, ws.api_key, "second")
    alice = ws.token("alice")
    made = []
    for n in range(2 * boards.SCORE_SEQ_SHARDS):
        made.append(await idea_id(api, alice, first if n % 3 else second, f"Idea number {n}"))
    assert {pk(i) % boards.SCORE_SEQ_SHARDS for i in made} == set(range(boards.SCORE_SEQ_SHARDS))
    return made


async def _tallies(api: Api, ideas: list[str]) -> dict[str, dict[str, int]]:
    return {i: (await idea(api, None, i, "votes { up down }"))["votes"] for i in ideas}


async def test_votes_arriving_together_commit_together_and_every_tally_is_exact(
    api: Api, ws: Workspace, services: Any, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    ideas = await _ideas_sharing_shards(api, ws)
    voters = [ws.token(f"voter{n}") for n in range(24)]
    rng = random.Random(3)
    # Each voter's votes in order (a later vote on the same idea replaces an earlier one); voters run at once.
    plans = [[(rng.choice(ideas), rng.choice(["UP", "DOWN", None])) for _ in range(12)] for _ in voters]
    group = services.db.group

    async def cast(token: str, plan: list[tuple[str, str | None]]) -> None:
        for target, value in plan:
            payload = await vote(api, token, target, value)
            assert payload["userErrors"] == [], payload

    with caplog.at_level(logging.WARNING, logger="ideaengine.driver"):
        await asyncio.gather(*(cast(t, p) for t, p in zip(voters, plans, strict=True)))
    assert group.stats.failed == 0 and not caplog.records  # no transaction failed (a deadlock would)
    assert group.stats.together > 0 and group.stats.transactions < group.stats.together
    assert group.stats.alone + group.stats.together == sum(len(p) for p in plans)

    expected = {i: {"up": 0, "down": 0} for i in ideas}
    for plan in plans:
        last: dict[str, str | None] = {}
        for target, value in plan:
            last[target] = value
        for target, value in last.items():
            if value is not None:
                expected[target]["up" if value == "UP" else "down"] += 1
    assert await _tallies(api, ideas) == expected


async def test_a_transaction_that_fails_leaves_each_vote_to_run_alone(
    api: Api, ws: Workspace, services: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction of several votes that fails (here its locks, after some are taken) writes none of them;
    each then runs again in a transaction of its own, and every vote counts once."""
    ideas = await _ideas_sharing_shards(api, ws)
    cast = votes._CAST_AT_ONCE
    failing = "SELECT id, board_id / 0 FROM ideas WHERE id = ANY($1::integer[]) ORDER BY id FOR NO KEY UPDATE"
    broken = driver.AfterLock(cast.name, cast.lock, cast.select.stmt, cast.fixed, cast.compose, failing)
    monkeypatch.setattr(votes, "_CAST_AT_ONCE", broken)
    services.db.group.lanes = 1  # every vote that arrives while one runs waits, so they go together
    voters = [ws.token(f"voter{n}") for n in range(12)]
    answers = await asyncio.gather(*(vote(api, t, ideas[n % 3], "UP") for n, t in enumerate(voters)))
    assert all(a["userErrors"] == [] for a in answers)
    assert services.db.group.stats.failed > 0
    assert await _tallies(api, ideas[:3]) == {i: {"up": 4, "down": 0} for i in ideas[:3]}


async def test_a_vote_cancelled_while_it_waits_is_never_written(
    api: Api, ws: Workspace, services: Any, database_url: str
) -> None:
    target = await idea_id(api, ws.token("alice"), await create_board(api, ws.api_key), "Oat milk in every store")
    group = services.db.group
    group.lanes = 1
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        holder = conn.transaction()
        await holder.start()
        await conn.execute("SELECT 1 FROM ideas WHERE id = $1 FOR NO KEY UPDATE", pk(target))
        first = asyncio.create_task(vote(api, ws.token("bob"), target, "UP"))  # runs alone, waits for the lock
        for _ in range(500):
            if group._busy == 1:
                break
            await asyncio.sleep(0.01)
        second = asyncio.create_task(vote(api, ws.token("carol"), target, "UP"))  # waits for the lane
        for _ in range(500):
            if group._waiting:
                break
            await asyncio.sleep(0.01)
        assert len(group._waiting) == 1
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        assert group._waiting == []
        await holder.commit()
        assert (await first)["idea"]["votes"] == {"up": 1, "down": 0}
    finally:
        await conn.close()
    assert (await idea(api, None, target, "votes { up down }"))["votes"] == {"up": 1, "down": 0}
    assert group.stats.together == 0


async def test_a_transaction_bumps_score_shards_in_ascending_order_whatever_order_its_votes_came_in(
    api: Api, ws: Workspace, services: Any, database_url: str
) -> None:
    """The vote's last lock is its board's score-sequence shard. Votes that came in as (high shard, low shard)
    run low first: while another writer holds the high shard, the waiting transaction already holds the low one.
    Run in the order they came, it would wait for the high one holding nothing else, and two transactions taking
    two shards in opposite orders could each wait for the other."""
    board = await create_board(api, ws.api_key)
    made = [await idea_id(api, ws.token("alice"), board, f"Idea number {n}") for n in range(boards.SCORE_SEQ_SHARDS)]
    by_shard = {pk(i) % boards.SCORE_SEQ_SHARDS: i for i in made}
    low, high, blocker = by_shard[2], by_shard[5], by_shard[9]
    for target in (low, high):  # the shards' rows exist from here on
        assert (await vote(api, ws.token("dave"), target, "UP"))["userErrors"] == []
    group = services.db.group
    group.lanes = 1
    plain = database_url.replace("postgresql+asyncpg://", "postgresql://")
    ideas_lock, shard_lock, probe = [await asyncpg.connect(plain) for _ in range(3)]
    try:
        await ideas_lock.execute("BEGIN")
        await ideas_lock.execute("SELECT 1 FROM ideas WHERE id = $1 FOR NO KEY UPDATE", pk(blocker))
        await shard_lock.execute("BEGIN")
        board_pk = await shard_lock.fetchval("SELECT board_id FROM ideas WHERE id = $1", pk(high))
        seq = "SELECT 1 FROM board_score_seqs WHERE board_id = $1 AND shard = $2 FOR UPDATE"
        await shard_lock.execute(seq, board_pk, 5)
        occupying = asyncio.create_task(vote(api, ws.token("bob"), blocker, "UP"))  # alone, holds the one lane
        for _ in range(500):
            if group._busy:
                break
            await asyncio.sleep(0.01)
        came_in = [asyncio.create_task(vote(api, ws.token("carol"), t, "UP")) for t in (high, low)]
        for _ in range(500):
            if len(group._waiting) == 2:
                break
            await asyncio.sleep(0.01)
        await ideas_lock.execute("COMMIT")  # the lane frees; the two go together and wait for the high shard
        assert (await occupying)["userErrors"] == []
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        for _ in range(500):
            if await probe.fetchval(waiting):
                break
            await asyncio.sleep(0.01)
        with pytest.raises(asyncpg.LockNotAvailableError):
            await probe.execute(seq + " NOWAIT", board_pk, 2)  # held by the waiting transaction
        await shard_lock.execute("COMMIT")
        answers = await asyncio.gather(*came_in)
    finally:
        for conn in (ideas_lock, shard_lock, probe):
            await conn.close()
    assert [a["idea"]["votes"] for a in answers] == [{"up": 2, "down": 0}] * 2
    assert group.stats.transactions == 1 and group.stats.together == 2


async def test_votes_still_go_together_on_connections_reset_between_uses(
    api: Api, ws: Workspace, services: Any, database_url: str
) -> None:
    """A vote's one call and a group's call run functions made in pg_temp on a connection the first time. Here
    every connection lent is reset first (`DISCARD TEMP`, as a pooler may reset one), so each call finds them
    gone: they are made again, votes that arrive together still go together, and each counts once."""
    ideas = await _ideas_sharing_shards(api, ws)
    db = services.db

    @contextlib.asynccontextmanager
    async def reset_first() -> AsyncIterator[Any]:
        async with db.driver_write(atomic=False) as work:
            await work.driver.execute("DISCARD TEMP")
            yield work

    db.group._lend = reset_first
    db.group.lanes = 1
    voters = [ws.token(f"voter{n}") for n in range(12)]
    answers = await asyncio.gather(*(vote(api, t, ideas[n % 3], "DOWN") for n, t in enumerate(voters)))
    assert all(a["userErrors"] == [] for a in answers)
    assert db.group.stats.together > 0 and db.group.stats.failed == 0, db.group.stats
    assert await _tallies(api, ideas[:3]) == {i: {"up": 0, "down": 4} for i in ideas[:3]}
