"""Votes: one per user per idea, tallies exact in the same transaction, even under concurrency."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ideaengine import boards, campaigns, follows, ideas, trending, visibility
from ideaengine.errors import DomainError
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform import driver as platform_driver
from ideaengine.platform.models import (
    BallotKind,
    Board,
    Idea,
    Vote,
    open_idea_clause,
    read_utc,
    stored_utc,
    utcnow,
)
from ideaengine.platform.upsert import insert_for

UP, DOWN = 1, -1
VOTES, IDEAS = cast(Table, Vote.__table__), cast(Table, Idea.__table__)
"The vote's statements run on the tables: as ORM statements each would also pass through the ORM's bulk\n"
"machinery (and match its WHERE against the session's objects), a fifth of a vote's Python time for nothing."
_MINE = (VOTES.c.idea_id == bindparam("idea_id")) & (VOTES.c.user_id == bindparam("user_id"))
_PREVIOUS = select(VOTES.c.value, VOTES.c.updated_at).where(_MINE)
_WITHDRAW = delete(VOTES).where(_MINE)
_FIGURE = select(IDEAS.c.trending, IDEAS.c.trending_at).where(IDEAS.c.id == bindparam("idea_id"))
_TALLY = (
    update(IDEAS)
    .where(IDEAS.c.id == bindparam("idea_id"))
    .values(
        up_count=IDEAS.c.up_count + bindparam("up"),
        down_count=IDEAS.c.down_count + bindparam("down"),
        trending=bindparam("trending"),
        trending_at=bindparam("now"),
    )
    .returning(IDEAS.c.up_count, IDEAS.c.down_count, IDEAS.c.trending, IDEAS.c.trending_at)
)
"Built once with named parameters: building a statement costs more Python than executing a cached one."

_NOW = "CAST($4 AS TIMESTAMP WITHOUT TIME ZONE)"
_VALUE = "CAST($3 AS INTEGER)"
_DECAYED = trending.postgres_decay("trending", "trending_at", _NOW)
"The idea's TRENDING figure moved to now; and below, the previous vote's weight now."
_REPLACED = trending.postgres_decay("CAST(value AS DOUBLE PRECISION)", "updated_at", _NOW)
_MOVED = ("up_count", "down_count", "trending", "trending_at", "follower_count")


def _cast_sql(board: str, shard: str, gate: str) -> str:
    """The vote's steps after the lock as the CTEs of one PostgreSQL statement, the last of which bumps the
    board's score sequence; the steps write only when `gate` (SQL) holds."""
    return f"""previous AS (
    SELECT value, updated_at FROM votes WHERE idea_id = $1 AND user_id = $2
), moves AS (
    SELECT {_VALUE} IS DISTINCT FROM (SELECT value FROM previous) AND {gate} AS yes
), chosen AS (
    INSERT INTO votes (idea_id, user_id, value, created_at, updated_at)
    SELECT $1, $2, {_VALUE}, {_NOW}, {_NOW}
    WHERE {_VALUE} IS NOT NULL AND (SELECT yes FROM moves)
    ON CONFLICT (idea_id, user_id) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
), withdrawn AS (
    DELETE FROM votes WHERE {_VALUE} IS NULL AND idea_id = $1 AND user_id = $2 AND (SELECT yes FROM moves)
), followed AS (
    {follows.follow_on_vote_sql("$1", "$2", _NOW, f"{_VALUE} = {UP} AND (SELECT yes FROM moves)")}
), moved AS (
    UPDATE ideas SET
        up_count = up_count + ({_VALUE} IS NOT DISTINCT FROM 1)::int
                            - ((SELECT value FROM previous) IS NOT DISTINCT FROM 1)::int,
        down_count = down_count + ({_VALUE} IS NOT DISTINCT FROM -1)::int
                                - ((SELECT value FROM previous) IS NOT DISTINCT FROM -1)::int,
        trending = {_DECAYED} + COALESCE({_VALUE}, 0) - COALESCE((SELECT {_REPLACED} FROM previous), 0),
        trending_at = {_NOW},
        follower_count = follower_count + (SELECT count(*) FROM followed)
    WHERE id = $1 AND (SELECT yes FROM moves)
    RETURNING up_count, down_count, trending, trending_at, follower_count
), bumped AS (
    {boards.bump_sql(board, shard, "moved")}
)"""


_CAST_POSTGRES = (
    f"WITH {_cast_sql('CAST($5 AS INTEGER)', 'CAST($6 AS INTEGER)', 'TRUE')}\nSELECT {', '.join(_MOVED)} FROM moved"
)
"""On PostgreSQL the whole vote after the lock is one statement, run on the driver (platform/driver.py): read
the previous vote, write or withdraw the new one, follow the idea on a new UP vote (`follows.follow_on_vote`),
move the tally and the TRENDING figure (ideaengine/trending.py) by the difference, and bump the board's score
sequence (`boards.changed`), returning the idea's new figures (no row when the vote was already this).
Its snapshot is taken after the idea's row lock, which every writer of the idea's votes and follows holds, so
the previous vote it reads is the latest; the sequence shard is the last row it writes, as in every other
write. SQLite cannot write in a WITH, and its statements cost no round trips: it runs the same steps one by
one (`_cast_in_steps`); tests hold both to the same answers."""

_CAST_AT_ONCE = platform_driver.AfterLock(
    "ideaengine_vote",
    "SELECT 1 FROM ideas WHERE id = $1 FOR NO KEY UPDATE",
    ideas.target_select(
        open_idea_clause(),
        boards.active_clause(),
        Idea.campaign_id.is_(None),
        Board.workspace_id == bindparam("reader_workspace"),
    ),
    5,
    lambda target: (
        f"WITH target AS ({target}), "
        + _cast_sql("(SELECT board_id FROM target)", "CAST($5 AS INTEGER)", "EXISTS (SELECT FROM target)")
        + f"\nSELECT target.*, {', '.join(f'moved.{name}' for name in _MOVED)} FROM target LEFT JOIN moved ON TRUE"
    ),
    f"SELECT id, board_id, {boards.score_shard_sql('id')} FROM ideas WHERE id = ANY($1::integer[]) ORDER BY id "
    "FOR NO KEY UPDATE",
)
"""The common vote in one round trip (`driver.AfterLock`): the same lock, then `_CAST_POSTGRES`'s statement,
reading the idea and board after the lock and writing only where every check of `cast_vote_on_driver` would
pass (a member of the board's workspace, an active board, an open idea outside a campaign). No row means some
check would fail, or the idea is not there: nothing was written, and the longer way says why. Votes that arrive
together commit together (`driver.Group`): their ideas locked first, in ascending id order, then each vote in
the order of the score-sequence shard it bumps, (board, shard), the last row every write locks."""


async def cast_vote(session: AsyncSession, actor: Actor, idea_id: int, value: int | None) -> Idea:
    """Record the actor's one vote on an idea (None withdraws it); the tally changes in the same transaction.
    A new UP vote follows the idea (`follows.follow_on_vote`)."""
    if session.get_bind().dialect.name == "postgresql":
        return await cast_vote_on_driver(await platform_driver.Write.of(session), actor, idea_id, value)
    # Lock the idea row before reading the previous vote, so concurrent switches stay exact (DECISIONS.md 8).
    idea, board = await ideas.get_for_write(session, actor, idea_id, lock=True)
    user_id = await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "vote")
    boards.require_active(board, "ideaId")
    ideas.require_open(idea)
    await campaigns.require_ballot(session, idea, BallotKind.VOTES, "ideaId")
    _require_value(value)
    now = utcnow()
    tally = await _cast_in_steps(session, {"idea_id": idea.id, "user_id": user_id, "value": value, "now": now})
    if tally is None:  # the vote was already this
        return idea
    for name in ("up_count", "down_count", "trending", "trending_at"):
        set_committed_value(idea, name, getattr(tally, name))
    if value == UP:  # a new UP vote (the tally moved): the supporter hears what becomes of the idea
        await follows.follow_on_vote(session, idea, user_id)
    await boards.changed(session, board.id, idea.id, at=now)
    return idea


async def cast_vote_on_driver(work: platform_driver.Write, actor: Actor, idea_id: int, value: int | None) -> Idea:
    """`cast_vote` on PostgreSQL: a lock and one statement on the driver, no ORM object written.

    The API runs the vote first as one call (`cast_vote_at_once`), which raises NeedsTransaction, nothing
    written, for any vote it does not write. Then here, in a write of the driver's own (`UnitOfWork.on_driver`),
    with no session: a vote by a caller of another workspace (a refusal that names the workspace) and a vote on
    a campaign entry (the campaign decides) raise NeedsSession before anything is written, and run again in a
    session, through `cast_vote`.
    """
    # Lock the idea row before reading the previous vote, so concurrent switches stay exact (DECISIONS.md 8).
    idea, board = await ideas.lock_detached(work, actor, idea_id)
    if work.session is None:
        if actor.is_foreign_to(board.workspace_id) or idea.campaign_id is not None:
            raise platform_driver.NeedsSession
        user_id = actor.require(board.workspace_id, ActorRole.MEMBER, "vote")
    else:
        user_id = await require_in(work.session, actor, board.workspace_id, ActorRole.MEMBER, "vote")
    boards.require_active(board, "ideaId")
    ideas.require_open(idea)
    if work.session is not None:
        await campaigns.require_ballot(work.session, idea, BallotKind.VOTES, "ideaId")
    _require_value(value)
    args = (idea.id, user_id, value, stored_utc(utcnow()), board.id, boards.score_shard(idea.id))
    moved = await work.driver.fetchrow(_CAST_POSTGRES, *args)
    if moved is None:  # the vote was already this
        return idea
    # The new figures come back with the statement (one round trip less than a refresh).
    for name, figure in _figures(moved).items():
        set_committed_value(idea, name, figure)
    boards.refresh_after_commit(work, board.id)
    return idea


async def cast_vote_at_once(work: platform_driver.Grouped, actor: Actor, idea_id: int, value: int | None) -> Idea:
    """`cast_vote_on_driver` as one statement (`_CAST_AT_ONCE`), alone or committed together with other callers'
    votes (`driver.Group`), for a member voting in their own workspace; NeedsTransaction, nothing written, for
    anything it does not write."""
    if actor.workspace_id is None:
        raise platform_driver.NeedsTransaction
    try:
        user_id = actor.require(actor.workspace_id, ActorRole.MEMBER, "vote")
        _require_value(value)
    except (DomainError, ValueError):
        raise platform_driver.NeedsTransaction from None
    args = (idea_id, user_id, value, stored_utc(utcnow()), boards.score_shard(idea_id))
    params = {"id": idea_id, "reader_workspace": actor.workspace_id, **visibility.params(actor)}
    found = await work.fetch(_CAST_AT_ONCE, args, params)
    if not found:
        raise platform_driver.NeedsTransaction
    moved = found[0][ideas.IDEA_WIDTH :]
    if moved[0] is None:  # the vote was already this
        return ideas.detach_idea(found[0])
    # The new figures go in as the idea is built: five set_committed_value calls were 7% of the write.
    idea = ideas.detach_idea(found[0], _figures(moved))
    boards.refresh_after_commit(work, idea.board_id)
    return idea


def _figures(moved: Sequence[Any]) -> dict[str, Any]:
    """A vote statement's new figures (its `_MOVED` columns, in that order) by attribute, read as the ORM reads
    them: the driver returns the stored UTC time naive."""
    figures = dict(zip(_MOVED, moved, strict=True))
    figures["trending_at"] = read_utc(figures["trending_at"])
    return figures


def _require_value(value: int | None) -> None:
    if value not in (UP, DOWN, None):
        raise ValueError(f"value must be 1, -1 or None, not {value!r}")


async def _cast_in_steps(session: AsyncSession, params: dict[str, Any]) -> Row[Any] | None:
    mine = {"idea_id": params["idea_id"], "user_id": params["user_id"]}
    value = params["value"]
    found = (await session.execute(_PREVIOUS, mine)).one_or_none()
    previous = None if found is None else found.value
    if previous == value:
        return None
    figure = (await session.execute(_FIGURE, {"idea_id": params["idea_id"]})).one()
    replaced = None if found is None else (found.value, found.updated_at)
    moved = trending.after_vote(figure.trending, figure.trending_at, replaced, value, params["now"])
    if value is None:
        await session.execute(_WITHDRAW, mine)
    else:
        now = params["now"]
        stmt = insert_for(session, VOTES).values(**mine, value=value, created_at=now, updated_at=now)
        await session.execute(
            stmt.on_conflict_do_update(index_elements=["idea_id", "user_id"], set_={"value": value, "updated_at": now})
        )
    up_delta = (value == UP) - (previous == UP)
    down_delta = (value == DOWN) - (previous == DOWN)
    tally = {"up": up_delta, "down": down_delta, "trending": moved, "now": params["now"]}
    return (await session.execute(_TALLY, {**mine, **tally})).one()


_VIEWER_VOTES = select(Vote.idea_id, Vote.value).where(
    Vote.user_id == bindparam("user_id"), Vote.idea_id.in_(bindparam("ids", expanding=True))
)
"Built once: a DataLoader batch runs it for every page a signed-in user sees (see boards._BY_SLUG)."


async def viewer_votes(session: AsyncSession, user_id: int, idea_ids: Sequence[int]) -> dict[int, int]:
    rows = await session.execute(_VIEWER_VOTES, {"user_id": user_id, "ids": list(idea_ids)})
    return {idea_id: value for idea_id, value in rows}
