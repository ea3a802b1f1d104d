"""A refresh reads what ideas keep (tallies, TRENDING) and the comparisons, never the votes, and writes only what
changed; its figures equal a full recompute from the votes and comparisons tables, figure by figure (issue 18)."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select

import ranking
from ideaengine import scores
from ideaengine.platform.models import Board, BoardScore, Idea, IdeaScore, utcnow
from tests.api.conftest import Api, Workspace
from tests.api.ops import compare, create_board, drain, idea, idea_id, pk, vote
from tests.conftest import eventually
from tests.workers.test_inprocess import job_lines
from workers import scores as refresh

MERGE = "mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) { userErrors { code } } }"
UNMERGE = "mutation($i: UnmergeIdeaInput!) { unmergeIdea(input: $i) { userErrors { code } } }"


class Clock:
    """The time votes, comparisons and merges are written at: it starts weeks ago and moves on by random
    steps, so votes spread over time (each weighs differently in TRENDING) and comparisons have an order."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, rng: random.Random, hours: float = 4.0) -> None:
        self.now += timedelta(hours=rng.uniform(0, hours))
        assert self.now <= utcnow()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(utcnow() - timedelta(days=45))
    for module in ("votes", "comparisons", "lifecycle", "unmerge"):
        monkeypatch.setattr(f"ideaengine.{module}.utcnow", clock)
    return clock


async def assert_equal_to_full_recompute(services: Any) -> None:
    """Every stored figure of every idea of the test's one board (as the API shows them) against the figures
    computed from the votes and comparisons tables by the ranking functions, as of the refresh."""
    async with services.db.read() as session:
        board_pk = (await session.execute(select(Board.id))).scalar_one()
        ids = list((await session.execute(select(Idea.id).where(Idea.board_id == board_pk))).scalars())
        stored = await scores.scores_many(session, ids)
        computed_at = stored[ids[0]].computed_at
        assert computed_at is not None
        expected = await refresh.from_source(session, board_pk, computed_at)
    assert [i for i in ids if stored[i].stale] == []
    for i in ids:
        score = stored[i].score
        assert score is not None
        shown = {
            "up": score.up,
            "down": score.down,
            "wilson_lower_bound": score.wilson_lower_bound,
            "trending": stored[i].trending,
            "elo": score.elo,
            "bradley_terry": score.bradley_terry,
            "bt_low": score.bt_low,
            "bt_high": score.bt_high,
            "comparisons": score.comparisons,
        }
        assert shown == pytest.approx(expected[i], rel=1e-9, abs=1e-9), i


async def random_activity(
    api: Api, ws: Workspace, rng: random.Random, clock: Clock, open_ideas: list[str], steps: int
) -> None:
    """Votes, switches, withdrawals and comparisons by 20 voters on the open ideas, spread over time."""
    for _ in range(steps):
        clock.advance(rng)
        voter = ws.token(f"voter{rng.randrange(20)}")
        if rng.random() < 0.75:
            value = rng.choice(["UP", "UP", "DOWN", None])
            assert (await vote(api, voter, rng.choice(open_ideas), value))["userErrors"] == []
        else:
            winner, loser = rng.sample(open_ideas, 2)
            assert (await compare(api, voter, winner, loser))["userErrors"] == []


async def test_a_refresh_equals_a_full_recompute_on_a_random_board(
    api: Api, ws: Workspace, services: Any, clock: Clock
) -> None:
    rng = random.Random(18)
    board = await create_board(api, ws.api_key)
    ideas = [await idea_id(api, ws.token("author"), board, f"Idea number {n}") for n in range(10)]
    await random_activity(api, ws, rng, clock, ideas, 150)
    source, target = ideas[1], ideas[2]
    merged = await api(MERGE, {"i": {"sourceId": source, "targetId": target}}, auth=ws.api_key)
    assert merged["data"]["mergeIdeas"]["userErrors"] == []
    await random_activity(api, ws, rng, clock, [i for i in ideas if i != source], 60)
    await drain(services)
    await assert_equal_to_full_recompute(services)

    unmerged = await api(UNMERGE, {"i": {"ideaId": source}}, auth=ws.api_key)
    assert unmerged["data"]["unmergeIdea"]["userErrors"] == []
    await random_activity(api, ws, rng, clock, ideas, 60)
    await drain(services)
    await assert_equal_to_full_recompute(services)


async def test_a_refresh_writes_only_the_rows_whose_figures_changed(
    api: Api, ws: Workspace, services: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(3)
    board = await create_board(api, ws.api_key)
    ideas = [await idea_id(api, ws.token("author"), board, f"Idea number {n}") for n in range(6)]
    await random_activity(api, ws, rng, clock, ideas[:4], 40)  # comparisons only among the first four
    await drain(services)
    caplog.clear()
    caplog.set_level("INFO", logger="ideaengine.jobs")
    clock.advance(rng)
    assert (await vote(api, ws.token("late"), ideas[5], "UP"))["userErrors"] == []
    await drain(services)
    lines = job_lines(caplog, "refresh_board")
    # Only the voted idea's figures changed: the others keep tallies, TRENDING (stored as of one board time)
    # and their pairwise figures, so their rows are left alone.
    assert [line["written"] for line in lines] == [1]
    await assert_equal_to_full_recompute(services)


async def test_a_refresh_after_votes_alone_keeps_the_pairwise_figures_and_a_comparison_refits_them(
    api: Api, ws: Workspace, services: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(7)
    board = await create_board(api, ws.api_key)
    ideas = [await idea_id(api, ws.token("author"), board, f"Idea number {n}") for n in range(5)]
    await random_activity(api, ws, rng, clock, ideas, 40)
    await drain(services)
    caplog.set_level("INFO", logger="ideaengine.jobs")
    for step, (action, expected) in enumerate((("vote", "kept"), ("compare", "fitted"), ("vote", "kept"))):
        caplog.clear()
        clock.advance(rng)
        voter = ws.token(f"late{step}")
        if action == "vote":
            assert (await vote(api, voter, ideas[step], "UP"))["userErrors"] == []
        else:
            assert (await compare(api, voter, ideas[3], ideas[4]))["userErrors"] == []
        await drain(services)
        assert [line["pairwise"] for line in job_lines(caplog, "refresh_board")] == [expected], action
        await assert_equal_to_full_recompute(services)


async def test_a_refresh_computed_before_a_newer_one_was_written_writes_nothing(
    api: Api, ws: Workspace, services: Any
) -> None:
    """Two workers on one board: the one that read before a vote and writes after the other's newer refresh
    must not put its older figures back; the board's scores stay fresh and include the vote."""
    board = await create_board(api, ws.api_key)
    target = await idea_id(api, ws.token("author"), board, "Oat milk in every store")
    await drain(services)
    async with services.db.read() as session:
        board_pk = (await session.execute(select(Board.id))).scalar_one()
        seq = (await session.execute(select(BoardScore.computed_seq))).scalar_one()
        old = await refresh.load(session, board_pk)
    assert (await vote(api, ws.token("bob"), target, "UP"))["userErrors"] == []
    await drain(services)
    now = utcnow()
    async with services.db.write() as session:
        written = await refresh.write(
            session, board_pk, seq, now, now, old, refresh.compute(old, now - timedelta(days=1))
        )
    assert written is None
    async with services.db.read() as session:
        stored = (await scores.scores_many(session, [pk(target)]))[pk(target)]
        assert (await session.execute(select(IdeaScore.up))).scalars().all() == [1]
    assert stored.stale is False
    assert stored.trending == pytest.approx(1.0, abs=1e-3)


async def test_a_refresh_interrupted_halfway_leaves_the_previous_figures(
    api: Api, ws: Workspace, services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = await create_board(api, ws.api_key)
    target = await idea_id(api, ws.token("author"), board, "Oat milk in every store")
    assert (await vote(api, ws.token("bob"), target, "UP"))["userErrors"] == []
    await drain(services)

    async def killed(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("worker killed after writing the changed rows, before the ranks")

    monkeypatch.setattr(refresh, "_rank", killed)
    assert (await vote(api, ws.token("carol"), target, "DOWN"))["userErrors"] == []
    await drain(services)
    async with services.db.read() as session:
        stored = (await scores.scores_many(session, [pk(target)]))[pk(target)]
    assert stored.score is not None
    assert (stored.score.up, stored.score.down, stored.score.rank, stored.stale) == (1, 0, 1, True)

    monkeypatch.undo()
    assert (await vote(api, ws.token("dave"), target, "UP"))["userErrors"] == []
    await drain(services)
    async with services.db.read() as session:
        stored = (await scores.scores_many(session, [pk(target)]))[pk(target)]
    assert stored.score is not None
    assert (stored.score.up, stored.score.down, stored.stale) == (2, 1, False)


SCORE = "votes { up down } score { wilsonLowerBound stale }"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # SQLite keeps one writer instead
async def test_a_refresh_waits_for_its_boards_lock_and_a_vote_during_it_stays_stale_until_the_next(
    api: Api, ws: Workspace, services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker's refresh of the board (the test, holding the board's lock) makes this one wait with the
    figures untouched; then a vote landing after it read the board's sequence leaves the board stale, and the
    next refresh includes it. A refresh that finds the board already computed at its sequence skips."""
    from ideaengine.platform.jobs import run_job

    board = await create_board(api, ws.api_key)
    target = await idea_id(api, ws.token("author"), board, "Oat milk in every store")
    await drain(services)
    monkeypatch.setattr(services.work, "queue", None)  # the test runs every refresh itself
    other_worker = await asyncpg.connect(services.settings.database_url.replace("postgresql+asyncpg", "postgresql"))

    async def waiting_on(lock: str) -> bool:
        # This test's database only: the suite's other processes wait on locks of their own on this server.
        query = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND wait_event = $1 AND datname = current_database()"
        )
        return bool(await other_worker.fetchval(query, lock))

    def refreshing() -> asyncio.Task[dict[str, Any]]:
        job = asyncio.to_thread(run_job, "workers.scores.refresh_board", (pk(board),), None, services.settings)
        return asyncio.ensure_future(job)

    wilson = [float(ranking.wilson_lower_bound([up], [0])[0]) for up in (0, 1, 2)]
    try:
        await other_worker.execute("SELECT pg_advisory_lock($1, $2)", refresh.LOCK_NAMESPACE, pk(board))
        assert (await vote(api, ws.token("bob"), target, "UP"))["userErrors"] == []
        running = refreshing()
        await eventually(lambda: waiting_on("advisory"), 30, "the refresh to wait for the board's lock")
        shown = await idea(api, None, target, SCORE)
        assert shown == {"votes": {"up": 1, "down": 0}, "score": {"wilsonLowerBound": wilson[0], "stale": True}}
        assert not running.done()

        # Hand the board over, keeping its refresh row: the refresh reads and computes, then waits to write.
        async with other_worker.transaction():
            await other_worker.execute("SELECT FROM board_scores WHERE board_id = $1 FOR UPDATE", pk(board))
            await other_worker.execute("SELECT pg_advisory_unlock($1, $2)", refresh.LOCK_NAMESPACE, pk(board))
            await eventually(lambda: waiting_on("transactionid"), 30, "the refresh to reach its write")
            assert (await vote(api, ws.token("carol"), target, "UP"))["userErrors"] == []
        counts = await running
    finally:
        await other_worker.close()
    assert counts["written"] == 1 and counts["waited"] > 0, counts
    shown = await idea(api, None, target, SCORE)
    assert shown == {"votes": {"up": 2, "down": 0}, "score": {"wilsonLowerBound": wilson[1], "stale": True}}

    assert "skipped" not in await refreshing()
    shown = await idea(api, None, target, SCORE)
    assert shown == {"votes": {"up": 2, "down": 0}, "score": {"wilsonLowerBound": wilson[2], "stale": False}}
    assert (await refreshing())["skipped"] == "already computed at its sequence"
