"""Reading the figures the score worker wrote, and whether they are stale."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine.models import Board, Idea, IdeaScore


async def scores_many(session: AsyncSession, idea_ids: Sequence[int]) -> dict[int, tuple[IdeaScore | None, int]]:
    """Per idea: its stored score (None until computed) and its board's current score sequence."""
    rows = await session.execute(
        select(Idea.id, IdeaScore, Board.score_seq)
        .join(Board, Board.id == Idea.board_id)
        .outerjoin(IdeaScore, IdeaScore.idea_id == Idea.id)
        .where(Idea.id.in_(idea_ids))
    )
    return {idea_id: (score, seq) for idea_id, score, seq in rows}


def is_stale(score: IdeaScore | None, board_seq: int) -> bool:
    """Exact (DECISIONS.md 12): the board has seen a score-changing write these figures do not include."""
    return score is None or score.computed_seq < board_seq
