"""refresh_board: every score of one board, recomputed from votes and comparisons in bulk."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, func, not_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import ranking
from ideaengine import boards
from ideaengine.ideas import IdeaSort, listed_by_default, sort_keys
from ideaengine.platform import events
from ideaengine.platform.db import Database
from ideaengine.platform.models import Board, Comparison, Idea, IdeaScore, ModerationState, Vote, utcnow
from ideaengine.platform.upsert import insert_for
from workers.base import run

HOUR = 3600.0


def refresh_board(board_id: int) -> dict[str, Any]:
    """Recompute Wilson, trending, Elo, Bradley-Terry and TOP rank for one board. Idempotent."""
    return run("refresh_board", board_id, lambda db: _refresh(db, board_id))


async def _refresh(db: Database, board_id: int) -> dict[str, Any]:
    async with db.read() as session:
        # The sequence is read before the data: a write landing in between leaves these scores stale, never
        # wrongly fresh (DECISIONS.md 12).
        seq = (
            await session.execute(select(boards.score_seq(Board.id)).where(Board.id == board_id))
        ).scalar_one_or_none()
        if seq is None:
            return {"skipped": "board no longer exists"}
        data = await _load(session, board_id)
    now = utcnow()
    rows = _compute(data, now)
    async with db.write() as session:
        await _write(session, board_id, seq, now, rows)
    # Jobs run in other processes (rq) or threads (in-process): they publish through Redis or their server.
    channel = events.board_channel(board_id)
    payload = {"type": events.SCORES_UPDATED, "boardId": board_id, "at": now.isoformat(), "seq": seq}
    await events.publish_from_job(db.settings, [events.Event(channel, payload)])
    return {"ideas": len(rows), "votes": len(data["vote_idea"]), "comparisons": len(data["winners"]), "seq": seq}


async def _load(session: AsyncSession, board_id: int) -> dict[str, Any]:
    """Three bulk reads per board, never one per idea (PERFORMANCE.md)."""
    ideas = (
        await session.execute(
            select(Idea.id, Idea.up_count, Idea.down_count).where(Idea.board_id == board_id).order_by(Idea.id)
        )
    ).all()
    votes = (
        await session.execute(
            select(Vote.idea_id, Vote.value, Vote.updated_at)
            .join(Idea, Idea.id == Vote.idea_id)
            .where(Idea.board_id == board_id)
        )
    ).all()
    comparisons = (
        await session.execute(
            select(Comparison.winner_id, Comparison.loser_id)
            .where(Comparison.board_id == board_id)
            .order_by(Comparison.created_at, Comparison.id)
        )
    ).all()
    return {
        "ideas": ideas,
        "vote_idea": [v.idea_id for v in votes],
        "vote_value": [v.value for v in votes],
        "vote_at": [v.updated_at for v in votes],
        "winners": [c.winner_id for c in comparisons],
        "losers": [c.loser_id for c in comparisons],
    }


def _compute(data: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    ideas = data["ideas"]
    n = len(ideas)
    if n == 0:
        return []
    position = {row.id: i for i, row in enumerate(ideas)}
    up = np.array([row.up_count for row in ideas], dtype=np.int64)
    down = np.array([row.down_count for row in ideas], dtype=np.int64)
    wilson = ranking.wilson_lower_bound(up, down)
    vote_index = np.array([position[i] for i in data["vote_idea"]], dtype=np.int64)
    ages = np.array([max((now - at).total_seconds(), 0.0) / HOUR for at in data["vote_at"]], dtype=float)
    trending = ranking.decayed_votes(vote_index, np.array(data["vote_value"], dtype=float), ages, n)
    winners = np.array([position[i] for i in data["winners"]], dtype=np.int64)
    losers = np.array([position[i] for i in data["losers"]], dtype=np.int64)
    elo = ranking.elo_ratings(n, winners, losers)
    bt = ranking.bradley_terry(n, winners, losers)
    compared = np.bincount(np.concatenate([winners, losers]), minlength=n)
    return [
        {
            "idea_id": row.id,
            "up": int(up[i]),
            "down": int(down[i]),
            "wilson_lower_bound": float(wilson[i]),
            "trending": float(trending[i]),
            "elo": float(elo[i]),
            "bradley_terry": float(bt.strength[i]),
            "bt_low": float(bt.low[i]),
            "bt_high": float(bt.high[i]),
            "comparisons": int(compared[i]),
        }
        for i, row in enumerate(ideas)
    ]


async def _rank(session: AsyncSession, board_id: int) -> None:
    """TOP rank: the 1-based position in the board's TOP listing, by the listing's own order and filter
    (`sort_keys`, `listed_by_default` in ideaengine.ideas) over the figures just written; unlisted ideas, and
    pending or hidden ones (which the public listing leaves out), have none."""
    order = [key.order() for key in sort_keys(IdeaSort.TOP)]
    ranked = and_(listed_by_default(), Idea.moderation_state == ModerationState.VISIBLE)
    listed = (
        select(Idea.id, func.row_number().over(order_by=order).label("rank"))
        .outerjoin(IdeaScore, IdeaScore.idea_id == Idea.id)
        .where(Idea.board_id == board_id, ranked)
        .subquery()
    )
    unlisted = select(Idea.id).where(Idea.board_id == board_id, not_(ranked))
    for stmt in (
        update(IdeaScore).where(IdeaScore.idea_id == listed.c.id).values(rank=listed.c.rank),
        update(IdeaScore).where(IdeaScore.board_id == board_id, IdeaScore.idea_id.in_(unlisted)).values(rank=None),
    ):
        await session.execute(stmt, execution_options={"synchronize_session": False})


async def _write(session: AsyncSession, board_id: int, seq: int, now: datetime, rows: list[dict[str, Any]]) -> None:
    """One upsert for the whole board, then the ranks; a row computed at a newer sequence is never overwritten by
    an older one."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if (stmt := _UPSERT.get(dialect)) is None:
        stmt = _UPSERT[dialect] = _upsert(session)
    await session.execute(stmt, [{**r, "board_id": board_id, "computed_at": now, "computed_seq": seq} for r in rows])
    await _rank(session, board_id)


_UPSERT: dict[str, Any] = {}
"""The scores' upsert, built once per dialect: `excluded` builds a column collection on every access, and
building this statement cost more than a board refresh's numbers (profile of a vote burst)."""


def _upsert(session: AsyncSession) -> Any:
    stmt = insert_for(session, IdeaScore)
    excluded = stmt.excluded
    columns = (
        "up",
        "down",
        "wilson_lower_bound",
        "trending",
        "elo",
        "bradley_terry",
        "bt_low",
        "bt_high",
        "comparisons",
        "computed_at",
        "computed_seq",
    )
    return stmt.on_conflict_do_update(
        index_elements=["idea_id"],
        set_={c: excluded[c] for c in columns},
        where=IdeaScore.computed_seq <= excluded.computed_seq,
    )
