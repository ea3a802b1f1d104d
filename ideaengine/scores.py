"""Reading the figures the score worker wrote, and whether they are stale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import boards, duplicates
from ideaengine.platform.models import Board, BoardIndex, Idea, IdeaScore, utcnow

_SCORES = (
    select(Idea.id, IdeaScore, boards.score_seq(Idea.board_id))
    .outerjoin(IdeaScore, IdeaScore.idea_id == Idea.id)
    .where(Idea.id.in_(bindparam("ids", expanding=True)))
)
"Built once (a DataLoader batch of every page of ideas runs it; see boards._BY_SLUG)."


async def scores_many(session: AsyncSession, idea_ids: Sequence[int]) -> dict[int, tuple[IdeaScore | None, int]]:
    """Per idea: its stored score (None until computed) and its board's current score sequence."""
    rows = await session.execute(_SCORES, {"ids": list(idea_ids)})
    return {idea_id: (score, int(seq)) for idea_id, score, seq in rows}


def is_stale(score: IdeaScore | None, board_seq: int) -> bool:
    """Exact (DECISIONS.md 12): the board has seen a score-changing write these figures do not include."""
    return score is None or score.computed_seq < board_seq


def _scored_seq() -> Any:
    return (
        select(func.coalesce(func.max(IdeaScore.computed_seq), 0))
        .where(IdeaScore.board_id == Board.id)
        .scalar_subquery()
    )


def _indexed_seq() -> Any:
    """The text_seq a board's index includes; 0 without one, or with one of a format this version cannot read."""
    return (
        select(func.coalesce(func.max(BoardIndex.text_seq), 0))
        .where(BoardIndex.board_id == Board.id, duplicates.readable())
        .scalar_subquery()
    )


async def stale_boards(session: AsyncSession) -> tuple[list[int], list[int]]:
    """Boards whose scores, and boards whose duplicate index, miss a write (exact, by sequence)."""
    scores = await session.execute(
        select(Board.id).where(boards.score_seq(Board.id) > _scored_seq()).order_by(Board.id)
    )
    texts = await session.execute(select(Board.id).where(Board.text_seq > _indexed_seq()).order_by(Board.id))
    return list(scores.scalars()), list(texts.scalars())


async def stalest_age_seconds(session: AsyncSession) -> float:
    """How long the longest-waiting board has had scores that miss a write (0 when all are fresh)."""
    computed = select(func.max(IdeaScore.computed_at)).where(IdeaScore.board_id == Board.id).scalar_subquery()
    rows = await session.execute(
        select(func.coalesce(computed, Board.created_at)).where(boards.score_seq(Board.id) > _scored_seq())
    )
    oldest = min((r for (r,) in rows if r is not None), default=None)
    return 0.0 if oldest is None else max((utcnow() - oldest).total_seconds(), 0.0)
