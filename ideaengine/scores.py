"""Reading the figures the score worker wrote, and whether they are stale."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import boards, duplicates, trending
from ideaengine.platform.models import SCORED, Board, BoardIndex, BoardScore, Idea, IdeaScore, utcnow


@dataclass(frozen=True)
class Stored:
    """An idea's stored figures (None until its board's first refresh after it came), what its board's last
    refresh covered (None before any), and whether the board's score sequence has moved past that refresh
    (`behind`). That, rather than the sequence itself, so a page's rows change only when what it shows does:
    every vote moves the sequence (see `platform.replay`)."""

    score: IdeaScore | None
    refresh: BoardScore | None
    behind: bool

    @property
    def stale(self) -> bool:
        """Exact (DECISIONS.md 12): the board has seen a score-changing write these figures do not include."""
        return self.score is None or self.refresh is None or self.behind

    @property
    def computed_at(self) -> datetime | None:
        """When the figures were last computed: the board's last refresh, which checked every idea's."""
        return None if self.score is None or self.refresh is None else self.refresh.computed_at

    @property
    def trending(self) -> float:
        """TRENDING as of `computed_at`: stored as of the board's reference time, the same for all its ideas."""
        if self.score is None or self.refresh is None:
            return 0.0
        return trending.decay(self.score.trending, self.refresh.trending_at, self.refresh.computed_at)


NOTHING = Stored(None, None, False)
"What an idea that cannot be read has: no figures."


def behind(board_id: Any) -> Any:
    """`Stored.behind` as SQL, beside an outer join of the board's BoardScore: true without one."""
    return func.coalesce(boards.score_seq(board_id) > BoardScore.computed_seq, True)


_SCORES = (
    select(Idea.id, IdeaScore, BoardScore, behind(Idea.board_id))
    .outerjoin(IdeaScore, and_(IdeaScore.idea_id == Idea.id, SCORED))
    .outerjoin(BoardScore, BoardScore.board_id == Idea.board_id)
    .where(Idea.id.in_(bindparam("ids", expanding=True)))
)
"Built once (a DataLoader batch of every page of ideas runs it; see boards._BY_SLUG)."


async def scores_many(session: AsyncSession, idea_ids: Sequence[int]) -> dict[int, Stored]:
    """Per idea: its stored figures, its board's last refresh and whether the board's scores are behind it."""
    rows = await session.execute(_SCORES, {"ids": list(idea_ids)})
    return {idea_id: Stored(score, refresh, bool(late)) for idea_id, score, refresh, late in rows}


def _scored_seq() -> Any:
    return (
        select(func.coalesce(func.max(BoardScore.computed_seq), 0))
        .where(BoardScore.board_id == Board.id)
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
    computed = select(BoardScore.computed_at).where(BoardScore.board_id == Board.id).scalar_subquery()
    rows = await session.execute(
        select(func.coalesce(computed, Board.created_at)).where(boards.score_seq(Board.id) > _scored_seq())
    )
    oldest = min((r for (r,) in rows if r is not None), default=None)
    return 0.0 if oldest is None else max((utcnow() - oldest).total_seconds(), 0.0)
