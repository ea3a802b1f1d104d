"""Votes: one per user per idea, tallies exact in the same transaction, even under concurrency."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ideaengine import boards, ideas
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform.models import Idea, Vote, utcnow
from ideaengine.platform.upsert import insert_for

UP, DOWN = 1, -1
VOTES, IDEAS = cast(Table, Vote.__table__), cast(Table, Idea.__table__)
"The vote's statements run on the tables: as ORM statements each would also pass through the ORM's bulk\n"
"machinery (and match its WHERE against the session's objects), a fifth of a vote's Python time for nothing."
_MINE = (VOTES.c.idea_id == bindparam("idea_id")) & (VOTES.c.user_id == bindparam("user_id"))
_PREVIOUS = select(VOTES.c.value).where(_MINE)
_WITHDRAW = delete(VOTES).where(_MINE)
_TALLY = (
    update(IDEAS)
    .where(IDEAS.c.id == bindparam("idea_id"))
    .values(up_count=IDEAS.c.up_count + bindparam("up"), down_count=IDEAS.c.down_count + bindparam("down"))
    .returning(IDEAS.c.up_count, IDEAS.c.down_count)
)
"Built once with named parameters: building a statement costs more Python than executing a cached one."


async def cast_vote(session: AsyncSession, actor: Actor, idea_id: int, value: int | None) -> Idea:
    """Record the actor's one vote on an idea (None withdraws it); the tally changes in the same transaction."""
    # Lock the idea row before reading the previous vote, so concurrent switches stay exact (DECISIONS.md 8).
    idea, board = await ideas.get_for_write(session, actor, idea_id, lock=True)
    user_id = await require_in(session, actor, board.workspace_id, ActorRole.MEMBER, "vote")
    ideas.require_open(idea)
    if value not in (UP, DOWN, None):
        raise ValueError(f"value must be 1, -1 or None, not {value!r}")
    mine = {"idea_id": idea.id, "user_id": user_id}
    previous = (await session.execute(_PREVIOUS, mine)).scalar_one_or_none()
    if previous == value:
        return idea
    now = utcnow()
    if value is None:
        await session.execute(_WITHDRAW, mine)
    else:
        stmt = insert_for(session, VOTES).values(
            idea_id=idea.id, user_id=user_id, value=value, created_at=now, updated_at=now
        )
        await session.execute(
            stmt.on_conflict_do_update(index_elements=["idea_id", "user_id"], set_={"value": value, "updated_at": now})
        )
    up_delta = (value == UP) - (previous == UP)
    down_delta = (value == DOWN) - (previous == DOWN)
    tally = (await session.execute(_TALLY, {"idea_id": idea.id, "up": up_delta, "down": down_delta})).one()
    # The new tally comes back with the UPDATE (one round trip less than a refresh).
    set_committed_value(idea, "up_count", tally.up_count)
    set_committed_value(idea, "down_count", tally.down_count)
    await boards.changed(session, board.id, idea.id, at=now)
    return idea


_VIEWER_VOTES = select(Vote.idea_id, Vote.value).where(
    Vote.user_id == bindparam("user_id"), Vote.idea_id.in_(bindparam("ids", expanding=True))
)
"Built once: a DataLoader batch runs it for every page a signed-in user sees (see boards._BY_SLUG)."


async def viewer_votes(session: AsyncSession, user_id: int, idea_ids: Sequence[int]) -> dict[int, int]:
    rows = await session.execute(_VIEWER_VOTES, {"user_id": user_id, "ids": list(idea_ids)})
    return {idea_id: value for idea_id, value in rows}
