"""refresh_board: every score of one board, computed from what its ideas keep and its comparisons, in bulk.

A refresh costs the board's ideas and comparisons, never its votes: tallies and the TRENDING figure are kept
per idea as votes are written (ideaengine/votes.py, ideaengine/trending.py). It writes, in one transaction,
only the rows whose figures changed, then what it covered (`BoardScore`): a refresh killed halfway leaves the
previous figures, and one that lost the race to a newer refresh writes nothing. On PostgreSQL a whole refresh
holds its board's lock (`_refresh_locked`), so no two workers ever refresh one board at the same time.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from typing import Any, TypeVar, cast

import numpy as np
from sqlalchemy import Integer, Select, Table, and_, bindparam, func, not_, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

import ranking
from ideaengine import boards, trending
from ideaengine.ideas import IdeaSort, listed_by_default, sort_keys, with_score_rows
from ideaengine.platform import events
from ideaengine.platform.db import Database
from ideaengine.platform.models import (
    Board,
    BoardScore,
    Comparison,
    Idea,
    IdeaScore,
    ModerationState,
    Vote,
    utcnow,
)
from ideaengine.platform.upsert import built_once, insert_for
from workers.base import run

HOUR = 3600.0
REBASE_AFTER = timedelta(days=30)
"""How long a board's stored TRENDING figures stay expressed at one time. Until then a refresh rewrites only
the ideas whose votes changed; then every voted idea's row once (figures grow by 2^10 in 30 days: in range)."""

IDEAS, SCORES, COMPARISONS, REFRESHES = (cast(Table, m.__table__) for m in (Idea, IdeaScore, Comparison, BoardScore))
"Read and written as tables: tuples through the driver, no ORM object or bulk machinery per row."
FIGURES = ("up", "down", "wilson_lower_bound", "trending", "elo", "bradley_terry", "bt_low", "bt_high", "comparisons")
"The columns of `idea_scores` a refresh computes; a row is written when one of them changed."


@dataclass(frozen=True)
class Loaded:
    """What a refresh reads: its ideas (by id), their tallies and TRENDING figures, and the comparisons."""

    ids: np.ndarray
    up: np.ndarray
    down: np.ndarray
    trending: np.ndarray
    trending_at: np.ndarray
    "POSIX seconds of each idea's `trending_at`; NaN before its first vote."
    created_at: list[datetime]
    "Each idea's `created_at`, which its score row carries (the scored sorts' tie-break)."
    winners: np.ndarray
    losers: np.ndarray
    "Positions in `ids`, in (created_at, id) order: Elo replays them."
    reference: datetime | None
    "The time the board's stored TRENDING figures are expressed at, if it was ever refreshed."
    stored: dict[int, tuple[Any, ...]]
    "Each idea's stored figures (FIGURES, in order): the pairwise ones may be kept (`kept_pairwise`), and on\n"
    "PostgreSQL, where load and write share one transaction, the write leaves the rows that did not change."
    pairs: str | None
    "The stored figures' `pairs_digest` (see `pairs_digest`): None before the first refresh."
    digest: str
    "The `pairs_digest` of what was read: the stored pairwise figures hold for it when it equals `pairs`."


def pairs_digest(ids: np.ndarray, winners: np.ndarray, losers: np.ndarray) -> str:
    """What the pairwise figures (Elo, Bradley-Terry, comparison counts) are a function of: the board's ideas
    and its counted comparisons in order. Equal digests give equal figures, so a refresh whose digest equals
    the stored one keeps the stored figures instead of fitting again: under a stream of votes alone the fit and
    the replay were most of a refresh's CPU (bench/scale.py)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (ids, winners, losers):
        digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()


def refresh_board(board_id: int) -> dict[str, Any]:
    """Recompute Wilson, trending, Elo, Bradley-Terry and TOP rank for one board. Idempotent."""
    return run("refresh_board", board_id, lambda db: _refresh(db, board_id))


async def _refresh(db: Database, board_id: int) -> dict[str, Any]:
    counts = await (_refresh_sqlite(db, board_id) if db.settings.is_sqlite else _refresh_locked(db, board_id))
    if "skipped" in counts:
        return counts
    # Jobs run in other processes (rq) or threads (in-process): they publish through Redis or their server.
    channel = events.board_channel(board_id)
    payload = {"type": events.SCORES_UPDATED, "boardId": board_id, "at": counts["at"], "seq": counts["seq"]}
    await events.publish_from_job(db.settings, [events.Event(channel, payload)])
    return counts


LOCK_NAMESPACE = 0x69655363
"""The first key of a board's refresh lock, `pg_advisory_xact_lock(LOCK_NAMESPACE, board_id)` (b"ieSc"): the
second is the board, so refreshes of different boards never wait for each other."""
_TRY_LOCK = select(func.pg_try_advisory_xact_lock(LOCK_NAMESPACE, bindparam("board_id", type_=Integer)))
_LOCK = select(func.pg_advisory_xact_lock(LOCK_NAMESPACE, bindparam("board_id", type_=Integer)))
_STATE = select(
    boards.score_seq(Board.id),
    select(REFRESHES.c.computed_seq).where(REFRESHES.c.board_id == Board.id).scalar_subquery(),
    func.clock_timestamp(),
).where(Board.id == bindparam("board_id", type_=Integer))
"The board's sequence, the one its figures were computed at (None before its first refresh), the server's time."


async def _refresh_locked(db: Database, board_id: int) -> dict[str, Any]:
    """PostgreSQL: the whole refresh (read, compute, write) in one transaction that holds the board's lock.

    Refreshes of one board reach several workers (coalesced jobs, the sweep's, a retry): without the lock two
    of them would read and compute the same board at once, twice the work for one result. Waiting costs the
    waiter nothing (it holds nothing else), and when its turn comes the board is usually computed at its
    sequence already: it skips. The log line says how long it `waited` (0: the lock was free) and when, by the
    server's one clock, it held the lock (`locked_at`, `held` seconds), so overlaps across workers can be
    checked after the fact (bench/scale.py does).
    In READ COMMITTED each statement sees the commits before it: the sequence, read first, is never newer than
    the data read after it (DECISIONS.md 12). A worker killed halfway ends its connection, which releases the
    lock and rolls everything back.
    """
    async with db.write() as session:
        params, waited = {"board_id": board_id}, 0.0
        if not (await session.execute(_TRY_LOCK, params)).scalar_one():
            started = time.monotonic()
            await session.execute(_LOCK, params)
            waited = round(time.monotonic() - started, 4)
        state = (await session.execute(_STATE, params)).one_or_none()
        if state is None:
            return {"skipped": "board no longer exists"}
        seq, computed, locked_at = state
        lock = {"waited": waited, "locked_at": locked_at.isoformat()}
        if computed is not None and computed >= seq:
            return {"seq": seq, **lock, "skipped": "already computed at its sequence"}
        data = await load(session, board_id)
        now, reference, figures, kept = _figures(data)
        # One transaction under the board's lock: the stored figures `load` read are still the stored ones.
        written = await write(session, board_id, seq, now, reference, data, figures, data.stored)
        released = (await session.execute(select(func.clock_timestamp()))).scalar_one()
    lock["held"] = round((released - locked_at).total_seconds(), 4)
    return _outcome(board_id, seq, now, data, written, kept) | lock


async def _refresh_sqlite(db: Database, board_id: int) -> dict[str, Any]:
    """SQLite: read in one transaction, compute outside any, write in a second, with no board lock.

    SQLite has one writer at a time, and a write transaction held through the compute would hold back every
    vote of every board for that long. Embedded, the in-process runner folds a board's refreshes into one per
    delay, so two rarely overlap; when they do (or rq workers share a SQLite file), the writes still queue one
    after the other, and `write` drops one computed at an older sequence than the stored one.
    """
    async with db.read() as session:
        # The sequence is read before the data: a write landing in between leaves these scores stale, never
        # wrongly fresh (DECISIONS.md 12).
        seq = (
            await session.execute(select(boards.score_seq(Board.id)).where(Board.id == board_id))
        ).scalar_one_or_none()
        if seq is None:
            return {"skipped": "board no longer exists"}
        data = await load(session, board_id)
    now, reference, figures, kept = _figures(data)
    async with db.write() as session:
        written = await write(session, board_id, seq, now, reference, data, figures)
    return _outcome(board_id, seq, now, data, written, kept)


def _figures(data: Loaded) -> tuple[datetime, datetime, dict[str, np.ndarray], bool]:
    """Now, the time TRENDING is expressed at (the board's, until REBASE_AFTER), every figure, and whether the
    pairwise ones were kept."""
    now = utcnow()
    reference = data.reference if data.reference is not None and now - data.reference < REBASE_AFTER else now
    kept = kept_pairwise(data)
    return now, reference, compute(data, reference, kept), kept is not None


def _outcome(board_id: int, seq: int, now: datetime, data: Loaded, written: int | None, kept: bool) -> dict[str, Any]:
    counts = {
        "ideas": len(data.ids),
        "written": written,
        "comparisons": len(data.winners),
        "pairwise": "kept" if kept else "fitted",
        "seq": seq,
    }
    if written is None:
        return {**counts, "skipped": "a newer refresh was written first"}
    return {**counts, "at": now.isoformat()}


async def load(session: AsyncSession, board_id: int) -> Loaded:
    """Four bulk reads per board: the refresh state, the ideas, the comparisons, the stored figures (never a
    vote)."""
    state = (
        await session.execute(
            select(REFRESHES.c.trending_at, REFRESHES.c.pairs_digest).where(REFRESHES.c.board_id == board_id)
        )
    ).one_or_none()
    reference, pairs = (None, None) if state is None else state
    columns = (
        IDEAS.c.id,
        IDEAS.c.up_count,
        IDEAS.c.down_count,
        IDEAS.c.trending,
        IDEAS.c.trending_at,
        IDEAS.c.created_at,
    )
    ideas = (await session.execute(select(*columns).where(IDEAS.c.board_id == board_id).order_by(IDEAS.c.id))).all()
    winners, losers = await _comparisons(session, board_id)
    ids = np.fromiter((row[0] for row in ideas), dtype=np.int64, count=len(ideas))
    at_winners, at_losers = np.searchsorted(ids, winners), np.searchsorted(ids, losers)
    return Loaded(
        ids=ids,
        up=np.fromiter((row[1] for row in ideas), dtype=np.int64, count=len(ideas)),
        down=np.fromiter((row[2] for row in ideas), dtype=np.int64, count=len(ideas)),
        trending=np.fromiter((row[3] for row in ideas), dtype=float, count=len(ideas)),
        trending_at=np.fromiter(
            (np.nan if row[4] is None else row[4].timestamp() for row in ideas), dtype=float, count=len(ideas)
        ),
        created_at=[row[5] for row in ideas],
        winners=at_winners,
        losers=at_losers,
        reference=reference,
        stored=await _stored(session, board_id),
        pairs=pairs,
        digest=pairs_digest(ids, at_winners, at_losers),
    )


_STORED = select(SCORES.c.idea_id, *(SCORES.c[c] for c in FIGURES)).where(
    SCORES.c.board_id == bindparam("board_id"), SCORES.c.computed_seq >= 0
)
"The figures a refresh computed; an idea's placeholder row (no figures yet, see IdeaScore) is written over."


async def _stored(session: AsyncSession, board_id: int) -> dict[int, tuple[Any, ...]]:
    return {row[0]: tuple(row[1:]) for row in await session.execute(_STORED, {"board_id": board_id})}


_WINNER, _LOSER = IDEAS.alias("winner"), IDEAS.alias("loser")
S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def counted(stmt: S) -> S:
    """The comparisons rankings count: both ideas visible. A matchup never offers a pending or hidden idea,
    and one hidden after it was compared leaves the rankings with its comparisons until it is restored."""
    return (
        stmt.select_from(COMPARISONS)
        .join(_WINNER, _WINNER.c.id == COMPARISONS.c.winner_id)
        .join(_LOSER, _LOSER.c.id == COMPARISONS.c.loser_id)
        .where(
            _WINNER.c.moderation_state == ModerationState.VISIBLE,
            _LOSER.c.moderation_state == ModerationState.VISIBLE,
        )
    )


_ORDER = (COMPARISONS.c.created_at, COMPARISONS.c.id)
_PAIRS = counted(select(COMPARISONS.c.winner_id, COMPARISONS.c.loser_id)).order_by(*_ORDER)
_PAIRS_POSTGRES = counted(
    select(
        func.array_agg(aggregate_order_by(COMPARISONS.c.winner_id, *_ORDER)),
        func.array_agg(aggregate_order_by(COMPARISONS.c.loser_id, *_ORDER)),
    )
)
"""On PostgreSQL the sequence comes back as two integer arrays in one row, which asyncpg decodes in C: a
third of the time of 100,000 rows (and numpy never sees a Row, which it reads element by element)."""


async def _comparisons(session: AsyncSession, board_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Winners' and losers' idea ids, in (created_at, id) order: what Elo replays and Bradley-Terry counts."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = _PAIRS_POSTGRES.where(COMPARISONS.c.board_id == board_id)
        winners, losers = (await session.execute(stmt)).one()
        return np.array(winners or [], dtype=np.int64), np.array(losers or [], dtype=np.int64)
    pairs = (await session.execute(_PAIRS.where(COMPARISONS.c.board_id == board_id))).all()
    flat = np.fromiter(chain.from_iterable(pairs), dtype=np.int64, count=2 * len(pairs)).reshape(-1, 2)
    return flat[:, 0], flat[:, 1]


PAIRWISE = ("elo", "bradley_terry", "bt_low", "bt_high", "comparisons")
"The figures computed from the comparisons alone (see `pairs_digest`)."


def compute(data: Loaded, reference: datetime, pairwise: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every figure of every idea, column by column (RANKING.md); TRENDING as of `reference`; the pairwise
    figures given (`kept_pairwise`), or else fitted."""
    n = len(data.ids)
    if n == 0:
        return {c: np.zeros(0) for c in FIGURES}
    return {
        "up": data.up,
        "down": data.down,
        "wilson_lower_bound": ranking.wilson_lower_bound(data.up, data.down),
        "trending": trending.at_time(data.trending, data.trending_at, reference.timestamp()),
        **(pairwise or _pairwise(n, data.winners, data.losers)),
    }


def _pairwise(n: int, winners: np.ndarray, losers: np.ndarray) -> dict[str, np.ndarray]:
    bt = ranking.bradley_terry(n, winners, losers)
    return {
        "elo": ranking.elo_ratings(n, winners, losers),
        "bradley_terry": bt.strength,
        "bt_low": bt.low,
        "bt_high": bt.high,
        "comparisons": np.bincount(np.concatenate([winners, losers]), minlength=n),
    }


def kept_pairwise(data: Loaded) -> dict[str, np.ndarray] | None:
    """The stored pairwise figures, if they were computed from these very ideas and comparisons."""
    if data.pairs != data.digest:
        return None
    rows = [data.stored.get(idea_id) for idea_id in data.ids.tolist()]
    if any(row is None for row in rows):
        return None
    at = {c: FIGURES.index(c) for c in PAIRWISE}
    kept = {c: np.array([row[at[c]] for row in rows if row is not None], dtype=float) for c in PAIRWISE}
    kept["comparisons"] = kept["comparisons"].astype(np.int64)
    return kept


async def from_source(session: AsyncSession, board_id: int, now: datetime) -> dict[int, dict[str, float]]:
    """Every figure straight from the source of truth, as of `now`: the votes and comparisons tables through
    the ranking functions, as RANKING.md defines them. What a refresh must equal; it costs every vote."""
    ideas = (await session.execute(select(Idea.id).where(Idea.board_id == board_id).order_by(Idea.id))).scalars()
    ids = np.array(list(ideas), dtype=np.int64)
    votes = (
        await session.execute(
            select(Vote.idea_id, Vote.value, Vote.updated_at)
            .join(Idea, Idea.id == Vote.idea_id)
            .where(Idea.board_id == board_id)
        )
    ).all()
    pairs = (await session.execute(_PAIRS.where(COMPARISONS.c.board_id == board_id))).all()
    n = len(ids)
    if n == 0:
        return {}
    index = np.searchsorted(ids, np.array([v.idea_id for v in votes], dtype=np.int64))
    values = np.array([v.value for v in votes], dtype=float)
    up = np.bincount(index, weights=values > 0, minlength=n).astype(np.int64)
    down = np.bincount(index, weights=values < 0, minlength=n).astype(np.int64)
    ages = np.array([max((now - v.updated_at).total_seconds(), 0.0) / HOUR for v in votes], dtype=float)
    compared = np.array([tuple(p) for p in pairs], dtype=np.int64).reshape(-1, 2)
    winners, losers = np.searchsorted(ids, compared[:, 0]), np.searchsorted(ids, compared[:, 1])
    bt = ranking.bradley_terry(n, winners, losers)
    columns = {
        "up": up,
        "down": down,
        "wilson_lower_bound": ranking.wilson_lower_bound(up, down),
        "trending": ranking.decayed_votes(index, values, ages, n),
        "elo": ranking.elo_ratings(n, winners, losers),
        "bradley_terry": bt.strength,
        "bt_low": bt.low,
        "bt_high": bt.high,
        "comparisons": np.bincount(np.concatenate([winners, losers]), minlength=n),
    }
    return {int(idea_id): {c: float(columns[c][i]) for c in FIGURES} for i, idea_id in enumerate(ids)}


async def _claim(session: AsyncSession, board_id: int, seq: int, now: datetime) -> bool:
    """Lock the board's refresh row (created if missing): refreshes of one board write one after the other,
    and one computed at an older sequence than what is stored writes nothing."""
    await session.execute(
        insert_for(session, REFRESHES)
        .values(board_id=board_id, computed_seq=-1, computed_at=now, trending_at=now)
        .on_conflict_do_nothing(index_elements=["board_id"])
    )
    stored = (
        await session.execute(
            select(REFRESHES.c.computed_seq).where(REFRESHES.c.board_id == board_id).with_for_update()
        )
    ).scalar_one()
    return bool(stored <= seq)


async def write(
    session: AsyncSession,
    board_id: int,
    seq: int,
    now: datetime,
    reference: datetime,
    data: Loaded,
    figures: dict[str, np.ndarray],
    stored: dict[int, tuple[Any, ...]] | None = None,
) -> int | None:
    """The rows whose figures changed, then the ranks that moved, then what this refresh covered; how many
    rows were written (None: a newer refresh was written first, and this one wrote nothing). `stored`: the
    stored figures as this transaction sees them, if already read in it (else read here, after the claim)."""
    if not await _claim(session, board_id, seq, now):
        return None
    ids = data.ids
    if stored is None:
        stored = await _stored(session, board_id)
    columns = {c: figures[c].tolist() for c in FIGURES}
    rows = []
    for i, idea_id in enumerate(ids.tolist()):
        row = tuple(columns[c][i] for c in FIGURES)
        if stored.get(idea_id) != row:
            rows.append({"idea_id": idea_id, "created_at": data.created_at[i], **dict(zip(FIGURES, row, strict=True))})
    if rows:
        stmt = built_once(_UPSERT, session, _upsert)
        stamp = {"board_id": board_id, "computed_at": now, "computed_seq": seq}
        await session.execute(stmt, [{**r, **stamp} for r in rows])
    await _rank(session, board_id)
    await session.execute(
        update(REFRESHES)
        .where(REFRESHES.c.board_id == board_id)
        .values(computed_seq=seq, computed_at=now, trending_at=reference, pairs_digest=data.digest)
    )
    return len(rows)


async def _rank(session: AsyncSession, board_id: int) -> None:
    """TOP rank: the 1-based position in the board's TOP listing, by the listing's own order and filter
    (`sort_keys`, `listed_by_default` in ideaengine.ideas) over the figures just written; unlisted ideas, and
    pending or hidden ones (which the public listing leaves out), have none. Only ranks that moved are written."""
    order = [key.order() for key in sort_keys(IdeaSort.TOP)]
    ranked = and_(listed_by_default(), Idea.moderation_state == ModerationState.VISIBLE)
    listed = (
        with_score_rows(select(Idea.id, func.row_number().over(order_by=order).label("rank")))
        .where(Idea.board_id == board_id, ranked)
        .subquery()
    )
    unlisted = select(Idea.id).where(Idea.board_id == board_id, not_(ranked))
    for stmt in (
        update(IdeaScore)
        .where(IdeaScore.idea_id == listed.c.id, IdeaScore.rank.is_distinct_from(listed.c.rank))
        .values(rank=listed.c.rank),
        update(IdeaScore)
        .where(IdeaScore.board_id == board_id, IdeaScore.idea_id.in_(unlisted), IdeaScore.rank.is_not(None))
        .values(rank=None),
    ):
        await session.execute(stmt, execution_options={"synchronize_session": False})


_UPSERT: dict[str, Any] = {}
"The scores' upsert, built once per dialect (`built_once`): building it cost more than a refresh's numbers."


def _upsert(session: AsyncSession) -> Any:
    stmt = insert_for(session, IdeaScore)
    excluded = stmt.excluded
    columns = (*FIGURES, "computed_at", "computed_seq")
    return stmt.on_conflict_do_update(
        index_elements=["idea_id"],
        set_={c: excluded[c] for c in columns},
        where=IdeaScore.computed_seq <= excluded.computed_seq,
    )
