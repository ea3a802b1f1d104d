"""A refresh reads what ideas keep (tallies, TRENDING) and the comparisons, never the votes, and writes only what
changed; its figures equal a full recompute from the votes and comparisons tables, figure by figure (issue 18)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ideaengine import scores
from ideaengine.platform.models import Board, BoardScore, Idea, IdeaScore, utcnow
from tests.api.conftest import Api, Workspace
from tests.api.ops import compare, create_board, drain, idea_id, pk, vote
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
            session, board_pk, seq, now, now, old.ids, refresh.compute(old, now - timedelta(days=1))
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
