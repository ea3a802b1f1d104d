"""TRENDING kept per idea as votes are written, so a score refresh reads one figure per idea, not every vote.

The figure (RANKING.md) is the sum of value * 2^(-age/h) over an idea's votes. A decayed sum decays as a
whole: a figure F as of time r is F * 2^(-(t - r)/h) at a later time t, and a vote adds or removes its own
weight. So each idea keeps `trending` as of `trending_at`, its last vote write: a vote moves the figure to
its own time, then adds +value for the new vote and -value * 2^(-age/h) for the vote it replaces (age from
that vote's `updated_at`). Re-based at every write, the figure never exceeds the idea's vote count, so it
stays in range and keeps float64's precision. Merges and unmerges move votes between ideas: they recompute
both ideas from their votes (`recompute`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import numpy as np
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import ranking
from ideaengine.platform.models import Idea, Vote

HALF_LIFE_SECONDS = ranking.TRENDING_HALF_LIFE_HOURS * 3600.0
"RANKING.md's half-life, in the seconds that datetimes subtract to."
NEGLIGIBLE_HALVINGS = 990.0
"""A figure halved this many times more than its own size (below about 1e-298) counts as 0: float64 goes
subnormal near 2^-1022, and PostgreSQL raises on underflow instead of rounding. No sum of +-1 votes can
tell the difference."""


def decay(figure: float, at: datetime | None, when: datetime) -> float:
    """A figure as of `at`, expressed as of `when` (0 without a reference time)."""
    if at is None or figure == 0:
        return 0.0
    halvings = (when - at).total_seconds() / HALF_LIFE_SECONDS
    if halvings - math.log2(abs(figure)) > NEGLIGIBLE_HALVINGS:
        return 0.0
    return figure * math.pow(2.0, -halvings)


def after_vote(
    figure: float, at: datetime | None, previous: tuple[int, datetime] | None, value: int | None, now: datetime
) -> float:
    """An idea's figure as of `now`, after its vote (value, updated_at) `previous` became `value` (None: none)."""
    moved = decay(figure, at, now) + (value or 0)
    return moved - (0.0 if previous is None else decay(float(previous[0]), previous[1], now))


def postgres_decay(figure: str, at: str, when: str) -> str:
    """`decay` as a PostgreSQL expression over SQL expressions, with the same guards (see NEGLIGIBLE_HALVINGS)."""
    halvings = f"(CAST(EXTRACT(EPOCH FROM ({when} - {at})) AS DOUBLE PRECISION) / {HALF_LIFE_SECONDS!r})"
    return (
        f"CASE WHEN {at} IS NULL OR {figure} = 0 THEN CAST(0 AS DOUBLE PRECISION)"
        f" WHEN {halvings} - ln(abs({figure})) / {math.log(2)!r} > {NEGLIGIBLE_HALVINGS!r}"
        " THEN CAST(0 AS DOUBLE PRECISION)"
        f" ELSE {figure} * power(CAST(2 AS DOUBLE PRECISION), -{halvings}) END"
    )


def at_time(figures: np.ndarray, at_seconds: np.ndarray, when_seconds: float) -> np.ndarray:
    """Many figures, each as of its own time (POSIX seconds, NaN for none), expressed as of one time."""
    with np.errstate(under="ignore"):
        out = figures * np.exp2((at_seconds - when_seconds) / HALF_LIFE_SECONDS)
    return np.asarray(np.where(np.isnan(at_seconds), 0.0, out))


IDEAS = cast(Table, Idea.__table__)
_SET = update(IDEAS).where(IDEAS.c.id == bindparam("idea")).values(trending=bindparam("t"), trending_at=bindparam("at"))
"By Core: an executemany over the ideas recomputed, without the ORM's bulk machinery."


async def recompute(session: AsyncSession, idea_ids: Sequence[int], now: datetime) -> None:
    """The ideas' figures derived again from their votes, as of `now`: after votes moved between ideas."""
    ids = sorted(set(idea_ids))
    if not ids:
        return
    rows = (await session.execute(select(Vote.idea_id, Vote.value, Vote.updated_at).where(Vote.idea_id.in_(ids)))).all()
    position = {idea_id: i for i, idea_id in enumerate(ids)}
    index = np.array([position[r.idea_id] for r in rows], dtype=np.int64)
    ages = np.array([max((now - r.updated_at).total_seconds(), 0.0) / 3600.0 for r in rows], dtype=float)
    values = np.array([r.value for r in rows], dtype=float)
    figures = ranking.decayed_votes(index, values, ages, len(ids))
    await session.execute(_SET, [{"idea": i, "t": float(figures[position[i]]), "at": now} for i in ids])
